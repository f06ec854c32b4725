// The bridge dashboard: polls the bridge's read-only overview every 2 s and
// redraws. Ledger text comes from other machines: it only ever reaches the
// page as text nodes, never as markup.
'use strict'

const POLL_MS = 2000
const $ = (id) => document.getElementById(id)

/** An element with text or child elements; `props` are set as properties (className, title, …). */
function el(tag, props, ...children) {
  const e = document.createElement(tag)
  Object.assign(e, props)
  for (const c of children) e.append(c instanceof Node ? c : String(c))
  return e
}

function age(seconds) {
  if (seconds === null) return 'none'
  const span = (s) => (s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`)
  if (seconds < -1) return `${span(-seconds)} ahead`
  return seconds < 1 ? 'just now' : `${span(seconds)} ago`
}

function bytes(n) {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

const shortId = (id) => (id.length > 12 ? `…${id.slice(-8)}` : id)
const peerCell = (id) => el('td', { className: 'peer', title: id }, shortId(id) || '-')

/** Replaces a tbody's rows; shows the "empty" note when there are none. */
function fill(body, rows, empty) {
  body.replaceChildren(...rows)
  if (empty) empty.hidden = rows.length > 0
}

let previous // the last overview and when it arrived, for rates
let bucket = decodeURIComponent(location.hash.slice(1)) || null
let writes = false
if (bucket) $('put-bucket').value = bucket

function renderNode(o) {
  $('node-peer').textContent = o.node.peerId
  $('node-address').textContent = o.node.vpnAddress ?? 'none (no machines entry yet)'
  $('node-hostname').textContent = o.node.hostname ?? '-'
  $('node-version').textContent = `kairosctl ${o.node.version}`
  $('node-ledger').textContent = `block ${o.ledger.height}, ${o.ledger.buckets.length} buckets`
  const v = o.vpn
  $('node-vpn').textContent = v
    ? `${v.sent} packets sent, ${v.received} received; dropped: ${v.droppedNoRoute} no route, ${v.droppedQueueFull} queue full, ${v.droppedSendError} send errors`
    : 'no TUN device (--no-tun): no packets are routed'
  const mode = $('mode')
  mode.textContent = o.writes ? 'writes allowed' : 'read-only'
  mode.classList.toggle('writes', o.writes)
}

function renderMachines(o) {
  $('machines-count').textContent = `${o.machines.length}, ${o.machines.filter((m) => m.live).length} live`
  const rows = o.machines.map((m) => {
    const health = el('td', { className: m.live ? 'live' : 'stale' }, age(m.healthcheckAgeSeconds) + (m.live ? '' : ' (stale)'))
    if (m.healthcheck) health.title = m.healthcheck
    const row = el(
      'tr',
      { className: m.self ? 'self' : '' },
      el('td', {}, m.address || '-'),
      el('td', {}, m.hostname || '-'),
      peerCell(m.peerId),
      el('td', {}, m.os || m.arch ? `${m.os || '?'}/${m.arch || '?'}` : '-'),
      el('td', {}, m.version || '-'),
      health,
      el('td', {}, m.self ? 'this node' : m.connected ? 'yes' : 'no'),
    )
    row.dataset.address = m.address
    return row
  })
  fill($('machines-body'), rows, $('machines-empty'))
}

function renderPeers(o, now) {
  $('peers-count').textContent = String(o.peers.length)
  const before = previous && new Map(previous.o.peers.map((p) => [p.peerId, p.traffic]))
  const seconds = previous ? (now - previous.at) / 1000 : 0
  const rows = o.peers.map((p) => {
    const t = p.traffic
    const was = before?.get(p.peerId)
    const rate = t && was && seconds > 0 ? `${bytes(Math.max(0, Math.round((t.bytesOut - was.bytesOut) / seconds)))}/s / ${bytes(Math.max(0, Math.round((t.bytesIn - was.bytesIn) / seconds)))}/s` : '-'
    const conn = p.connections.length === 0 ? 'not connected' : p.connections.map((c) => `${c.relayed ? 'relayed' : 'direct'} ${c.direction}`).join(', ')
    const connCell = el('td', {}, conn)
    connCell.title = p.connections.map((c) => c.remoteAddr).join('\n')
    const n = (v) => el('td', { className: 'num' }, v === null || v === undefined ? '-' : v)
    const row = el(
      'tr',
      {},
      peerCell(p.peerId),
      el('td', {}, p.address ? `${p.address}${p.hostname ? ` (${p.hostname})` : ''}` : '-'),
      connCell,
      n(t?.packetsOut),
      n(t && bytes(t.bytesOut)),
      n(t?.packetsIn),
      n(t && bytes(t.bytesIn)),
      n(rate),
      n(p.queued),
    )
    row.dataset.peer = p.peerId
    if (t) Object.assign(row.dataset, { packetsOut: t.packetsOut, packetsIn: t.packetsIn })
    return row
  })
  fill($('peers-body'), rows, $('peers-empty'))
}

function renderBuckets(o) {
  const names = o.ledger.buckets.map((b) => b.name)
  if (bucket !== null && !names.includes(bucket)) bucket = null
  $('buckets').replaceChildren(
    ...o.ledger.buckets.map((b) => {
      const button = el('button', { type: 'button' }, `${b.name} `, el('span', { className: 'count' }, b.keys))
      button.dataset.bucket = b.name
      button.setAttribute('aria-pressed', String(b.name === bucket))
      button.addEventListener('click', () => {
        bucket = b.name
        $('put-bucket').value = b.name
        history.replaceState(null, '', `#${encodeURIComponent(b.name)}`)
        for (const other of $('buckets').children) other.setAttribute('aria-pressed', String(other === button))
        void loadBucket()
      })
      return button
    }),
  )
}

async function api(method, params) {
  const r = await fetch(`api/kairosctl/ledger?${new URLSearchParams(params)}`, { method, cache: 'no-store' })
  const body = await r.json().catch(() => ({ error: `the bridge answered ${r.status}` }))
  if (!r.ok) throw new Error(body.error ?? `the bridge answered ${r.status}`)
  return body
}

async function loadBucket() {
  $('put').hidden = !writes
  $('entries-actions').hidden = !writes
  if (bucket === null) {
    $('entries').hidden = true
    $('entries-empty').hidden = false
    $('entries-empty').textContent = 'Choose a bucket.'
    return
  }
  const shown = bucket
  let answer
  try {
    answer = await api('GET', { bucket: shown })
  } catch (err) {
    answer = { entries: [], error: err.message }
  }
  if (shown !== bucket) return
  const rows = answer.entries.map((e) => {
    const box = el('div', { className: 'valuebox' }, el('pre', {}, e.text))
    if (e.decoded) box.append(el('span', { className: 'badge decoded', title: `stored as ${e.raw}` }, 'decoded from base64'))
    const value = el('td', { className: 'value' }, box)
    const row = el('tr', {}, el('td', { className: 'mono' }, e.key), value)
    row.dataset.key = e.key
    if (writes) {
      const del = el('button', { type: 'button', className: 'danger' }, 'Delete')
      del.addEventListener('click', () => api('DELETE', { bucket: shown, key: e.key }).then(loadBucket, (err) => ($('put-result').textContent = err.message)))
      row.append(el('td', {}, del))
    }
    return row
  })
  $('entries').hidden = rows.length === 0
  $('entries-body').replaceChildren(...rows)
  $('entries-empty').hidden = rows.length > 0
  $('entries-empty').textContent = answer.error ?? `Bucket ${shown} is empty.`
}

$('put').addEventListener('submit', (evt) => {
  evt.preventDefault()
  const params = { bucket: $('put-bucket').value, key: $('put-key').value, value: $('put-value').value }
  if ($('put-encode').checked) params.encode = '1'
  api('PUT', params).then(
    () => {
      $('put-result').textContent = `stored ${params.bucket}/${params.key}; announcing it to the network`
      bucket = params.bucket
      history.replaceState(null, '', `#${encodeURIComponent(bucket)}`)
      void loadBucket()
    },
    (err) => ($('put-result').textContent = err.message),
  )
})

async function poll() {
  const updated = $('updated')
  try {
    const r = await fetch('api/kairosctl/overview', { cache: 'no-store' })
    if (!r.ok) throw new Error(`the bridge answered ${r.status}`)
    const o = await r.json()
    const now = Date.now()
    writes = o.writes
    renderNode(o)
    renderMachines(o)
    renderPeers(o, now)
    renderBuckets(o)
    await loadBucket()
    previous = { o, at: now }
    updated.textContent = `updated ${new Date(now).toLocaleTimeString()}`
    updated.classList.remove('down')
  } catch (err) {
    updated.textContent = `the bridge is not answering (${err.message}); retrying`
    updated.classList.add('down')
  } finally {
    setTimeout(poll, POLL_MS)
  }
}

void poll()
