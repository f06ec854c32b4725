import { hostname } from 'node:os'

/** A value of the ledger's `machines` bucket (key: the VPN address), as EdgeVPN writes it. */
export interface MachineEntry {
  PeerID: string
  Hostname: string
  OS: string
  Arch: string
  Address: string
  Version: string
}

/** Go architecture names, as EdgeVPN writes them in `machines`. */
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }

/** This machine's `machines` entry for the peer `peerId` at the VPN address `ip`. */
export function localMachineEntry(peerId: string, ip: string): MachineEntry {
  return {
    PeerID: peerId,
    Hostname: hostname(),
    OS: process.platform,
    Arch: GOARCH[process.arch] ?? process.arch,
    Address: ip,
    Version: 'kairosctl',
  }
}
