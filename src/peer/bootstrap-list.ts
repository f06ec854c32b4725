/**
 * Where the DHT starts when no bootstrap peer is given: the public IPFS Amino
 * DHT, through the same list Go EdgeVPN uses (go-libp2p-kad-dht's
 * DefaultBootstrapPeers: four `/dnsaddr` entries, resolved through DNS TXT
 * records at dial time, and mars.i.ipfs.io). Go EdgeVPN falls back to it when
 * EDGEVPNBOOTSTRAPPEERS is empty, and announces the token's rendezvous there,
 * so a kairosctl that joins the same DHT finds a Kairos site with the token
 * alone.
 *
 * Explicit bootstrap peers replace the list. KAIROSCTL_NO_PUBLIC_DHT=1 empties
 * it (air-gapped machines; every test sets it, so no test can reach out).
 */
export const AMINO_BOOTSTRAP_PEERS: readonly string[] = Object.freeze([
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ',
])

/** The environment variable that switches the public list off. */
export const NO_PUBLIC_DHT_ENV = 'KAIROSCTL_NO_PUBLIC_DHT'

/** Whether the public list is switched off in `env`. */
export function publicDhtDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[NO_PUBLIC_DHT_ENV]
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false'
}

export interface DhtBootstrap {
  /** Peers the rendezvous rounds dial before each announce and lookup. */
  peers: string[]
  /** Where they come from, for status lines and errors. */
  source: 'explicit' | 'public' | 'none'
}

/**
 * The DHT's bootstrap peers: the explicit ones when any are given, else the
 * public Amino list (unless switched off, or the DHT is off).
 */
export function dhtBootstrap(explicit: string[], dht: boolean, env: NodeJS.ProcessEnv = process.env): DhtBootstrap {
  if (explicit.length > 0) return { peers: [...explicit], source: 'explicit' }
  if (!dht || publicDhtDisabled(env)) return { peers: [], source: 'none' }
  return { peers: [...AMINO_BOOTSTRAP_PEERS], source: 'public' }
}
