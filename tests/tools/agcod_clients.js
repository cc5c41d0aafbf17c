// Runs the three npm AGCOD client libraries back to back against a mocksrv (tests/agcod/test_client_libraries.py).
// None of them takes an endpoint URL: each builds https://<Amazon host>/<Operation>. The libraries
// sign for the real host name as published; this driver sends their requests, unchanged (signed
// Host header included), over plain HTTP to MOCKSRV_URL by wrapping https.request. One JSON line per
// call: {"lib", "op", "ok", "status"?, "body"}.
'use strict'
const http = require('http')
const https = require('https')
const path = require('path')

const target = new URL(process.env.MOCKSRV_URL)
const keys = {
  accessKeyId: process.env.MOCKSRV_AGCOD_ACCESS_KEY_ID,
  secretAccessKey: process.env.MOCKSRV_AGCOD_SECRET_ACCESS_KEY,
}
const partnerId = process.env.MOCKSRV_AGCOD_PARTNER_ID
const modules = path.join(__dirname, 'agcod-clients', 'node_modules')

https.request = function (url, options, callback) {
  if (typeof url === 'string' || url instanceof URL) {
    const u = new URL(url)
    if (typeof options === 'function') [callback, options] = [options, {}]
    options = Object.assign({ path: u.pathname + u.search, host: u.host }, options || {})
  } else {
    ;[options, callback] = [url, options]
  }
  const headers = Object.assign({}, options.headers)
  const hostHeader = Object.keys(headers).find((k) => k.toLowerCase() === 'host')
  if (!hostHeader) headers.Host = options.host || options.hostname
  const plain = Object.assign({}, options, {
    protocol: 'http:', host: target.hostname, hostname: target.hostname, port: target.port,
    agent: undefined, headers,
  })
  return http.request(plain, callback)
}

function report(lib, op, ok, body, status) {
  console.log(JSON.stringify({ lib, op, ok, status, body }))
}

async function step(lib, op, fn) {
  try {
    const body = await fn()
    report(lib, op, true, body)
    return body
  } catch (err) {
    const res = err.response || {}
    const body = res.data || err.message || String(err)
    report(lib, op, false, body, res.status || err.statusCode)
    return null
  }
}

async function amazonGc() {
  const { createGiftCard } = require(path.join(modules, 'amazon-gc'))
  await step('amazon-gc', 'CreateGiftCard', () => createGiftCard({
    amount: 5, currencyCode: 'USD', partnerId, accessKey: keys.accessKeyId,
    secretKey: keys.secretAccessKey, environment: 'sandbox', endpoint: 'NA',
  }))
}

async function amazonIncentivesApi() {
  const { IncentivesAPI } = require(path.join(modules, 'amazon-incentives-api'))
  const client = new IncentivesAPI({
    accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey, partnerId,
    endpoint: IncentivesAPI.Endpoint.NorthAmericaSandbox,
  })
  const id = `${partnerId}IncApi${Date.now()}`
  const lib = 'amazon-incentives-api'
  await step(lib, 'CreateGiftCard', () => client.createGiftCard({ creationRequestId: id, amount: 5, currencyCode: 'USD' }))
  await step(lib, 'CancelGiftCard', () => client.cancelGiftCard(id))
  await step(lib, 'GetAvailableFunds', () => client.getAvailableFunds())
}

async function agcod() {
  const Client = require(path.join(modules, 'agcod'))
  const client = new Client({
    partnerId, credentials: keys,
    endpoint: { NA: { host: 'agcod-v2-gamma.amazon.com', region: 'us-east-1' } },
  })
  const call = (fn) => new Promise((resolve, reject) => {
    fn((err, result) => (err ? reject(Object.assign(new Error(err.message || 'failed'), { response: { data: err, status: err.statusCode } })) : resolve(result)))
  })
  let sent
  const card = await step('agcod', 'CreateGiftCard', () => call((cb) => { sent = client.createGiftCard('NA', 5, 'USD', cb) }))
  await step('agcod', 'CreateGiftCard (retry)', () => call((cb) => client.createGiftCardAgain('NA', 5, 'USD', sent.sequentialId, cb)))
  await step('agcod', 'CancelGiftCard', () => call((cb) => client.cancelGiftCard('NA', sent.sequentialId, card && card.gcId, cb)))
}

;(async () => {
  await amazonGc()
  await amazonIncentivesApi()
  await agcod()
})()
