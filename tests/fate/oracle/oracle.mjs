// Decodes each vector's bytes with @aeternity/aepp-calldata under the vector's type, and
// encodes the decoded value again: stdin is a JSON array of {type, cb}, stdout the results.
import {ContractByteArrayEncoder} from '@aeternity/aepp-calldata'

const encoder = new ContractByteArrayEncoder()

// The decoded value in plain JSON: big integers, byte arrays and maps tagged.
function plain(value) {
    if (typeof value === 'bigint') return {$int: value.toString()}
    if (value instanceof Uint8Array) return {$bytes: Buffer.from(value).toString('hex')}
    if (value instanceof Map) return {$map: [...value.entries()].map(([k, v]) => [plain(k), plain(v)])}
    if (Array.isArray(value)) return value.map(plain)
    if (value !== null && typeof value === 'object') {
        return {$obj: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))}
    }
    return value
}

const vectors = JSON.parse(await new Promise((resolve) => {
    let text = ''
    process.stdin.on('data', (chunk) => { text += chunk })
    process.stdin.on('end', () => resolve(text))
}))
const results = vectors.map(({type, cb}) => {
    try {
        const decoded = encoder.decodeWithType(cb, type)
        return {decoded: plain(decoded), reencoded: encoder.encodeWithType(decoded, type)}
    } catch (error) {
        return {error: String(error)}
    }
})
process.stdout.write(JSON.stringify(results))
