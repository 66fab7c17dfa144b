import Foundation

/// A log record as JSON allows it: non-finite numbers (NaN, ±inf: a diverged loss, a value not read on the meta
/// device) become null, in nested arrays and objects too (JSONSerialization refuses them).
func jsonSafe(_ record: [String: Any]) -> [String: Any] { record.mapValues(jsonSafeValue) }

private func jsonSafeValue(_ v: Any) -> Any {
    switch v {
    case let d as Double: return d.isFinite ? d : NSNull()
    case let f as Float: return f.isFinite ? f : NSNull()
    case let a as [Any]: return a.map(jsonSafeValue)
    case let o as [String: Any]: return jsonSafe(o)
    default: return v
    }
}
