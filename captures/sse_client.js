// sse_client.js URL LOG -- an EventSource (Debian's node-eventsource 2.0,
// the npm `eventsource` package) that follows URL as a browser would: it
// reconnects after the stream ends, waiting the `retry` the server set and
// sending Last-Event-ID, until the server answers something other than 200
// (http_peer.py's server answers 204 on the third connection). Every open,
// event and error is appended to LOG as one JSON line, with the time it was
// seen (performance.timeOrigin + performance.now(), in seconds).
// Run with NODE_PATH=/usr/share/nodejs.
'use strict'
const fs = require('fs')
const EventSource = require('eventsource')

const [url, logPath] = process.argv.slice(2)
const fd = fs.openSync(logPath, 'a')
const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1e6
const log = (kind, fields) => fs.writeSync(fd, JSON.stringify({ by: 'eventsource', kind, ...fields }) + '\n')

const es = new EventSource(url)
let opens = 0
es.onopen = () => { opens += 1; log('open', { t: now(), connection: opens }) }
// 'error' without a status: the stream ended and the EventSource will
// reconnect; with one: the answer was not 200 and it stops.
es.onerror = (e) => log('error', { t: now(), status: e.status || null, message: e.message || null })
// An EventSource delivers each event type to its own listeners.
for (const type of ['message', 'tick', 'split', 'blob', 'bye']) {
  es.addEventListener(type, (ev) => {
    log('event', { t: now(), connection: opens, type: ev.type, last_event_id: ev.lastEventId, data_len: ev.data.length, data: ev.data.length > 200 ? ev.data.slice(0, 60) + `...(${ev.data.length} chars)` : ev.data })
  })
}
// Never outlives a broken server.
setTimeout(() => { log('timeout', { t: now() }); es.close(); process.exit(1) }, 15000).unref()
