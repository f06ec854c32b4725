/**
 * Network hygiene for every test and benchmark process: kairosctl never falls
 * back to the public Amino DHT bootstrap list (src/peer/bootstrap-list.ts).
 * Imported for its side effect by the shared helpers (cli, netns, go-peer,
 * ts-peer), and the npm test scripts set the same variable, so the CLI and
 * peers started by tests inherit it. A test that needs the public list on
 * purpose passes an environment without it to a sealed namespace.
 */
import { NO_PUBLIC_DHT_ENV } from '../../src/peer/bootstrap-list.js'

process.env[NO_PUBLIC_DHT_ENV] = '1'

export { NO_PUBLIC_DHT_ENV }
