import CTorch
public func hello() -> Int32 { var t: ct_tensor? = nil; let s: [Int64] = [2,3]; return ct_zeros(s, 2, 6, &t) }
