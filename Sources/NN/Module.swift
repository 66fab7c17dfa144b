import Torch

/// A layer or model. Parameters, buffers and sub-modules are discovered from stored properties by reflection, named
/// like PyTorch state-dict keys: camelCase property names become snake_case (`posEmbedSpatial` →
/// `pos_embed_spatial`), arrays of modules are numbered (`blocks.3.attn.proj.weight`), nil optionals are skipped. A
/// `Tensor` property is saved in the state dict; wrap a tensor in `Constant` to keep it out (e.g. a fixed sinusoidal
/// table that a checkpoint does not carry). A module may rename properties with `keyNames`.
public protocol Module: AnyObject {
    /// Train (dropout, drop path active) or eval mode.
    var training: Bool { get set }
    /// Property name → key, for names the snake_case rule does not give.
    var keyNames: [String: String] { get }
}

extension Module {
    public var keyNames: [String: String] { [:] }
}

/// A tensor held by a module but not part of its state dict.
public struct Constant {
    public var value: Tensor
    public init(_ value: Tensor) { self.value = value }
}

/// `posEmbedSpatial` → `pos_embed_spatial`; `fc1` stays `fc1` (JSONEncoder's convertToSnakeCase for names without
/// acronyms): state-dict keys, config JSON keys and command-line flags.
public func snakeCase(_ s: String) -> String {
    var out = ""
    for c in s {
        if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
    }
    return out
}

extension Module {
    /// Direct stored children of this module: (key, value).
    private func members() -> [(String, Any)] {
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: self)
        while let cur = m { mirrors.insert(cur, at: 0); m = cur.superclassMirror }
        let renames = keyNames
        return mirrors.flatMap { $0.children }.compactMap { child in
            guard let label = child.label else { return nil }
            return (renames[label] ?? snakeCase(label), child.value)
        }
    }

    private func visit(prefix: String, tensors: inout [(String, Tensor)], modules: inout [(String, Module)]) {
        modules.append((prefix, self))
        for (key, value) in members() {
            let name = prefix.isEmpty ? key : prefix + "." + key
            Self.visitValue(value, name: name, tensors: &tensors, modules: &modules)
        }
    }

    private static func visitValue(
        _ value: Any, name: String, tensors: inout [(String, Tensor)], modules: inout [(String, Module)]
    ) {
        switch value {
        case let t as Tensor: tensors.append((name, t))
        case let m as Module: m.visit(prefix: name, tensors: &tensors, modules: &modules)
        case let ms as [Module]:
            for (i, m) in ms.enumerated() { m.visit(prefix: "\(name).\(i)", tensors: &tensors, modules: &modules) }
        default:
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional, let inner = mirror.children.first?.value {
                visitValue(inner, name: name, tensors: &tensors, modules: &modules)
            }
        }
    }

    /// Every state-dict tensor (parameters and buffers) in declaration order.
    public func namedTensors() -> [(String, Tensor)] {
        var ts: [(String, Tensor)] = [], ms: [(String, Module)] = []
        visit(prefix: "", tensors: &ts, modules: &ms)
        return ts
    }
    /// The tensors that receive gradients.
    public func namedParameters() -> [(String, Tensor)] { namedTensors().filter { $0.1.requiresGrad } }
    public func parameters() -> [Tensor] { namedParameters().map(\.1) }
    /// This module and all below it, with their key prefixes ("" for self).
    public func namedModules() -> [(String, Module)] {
        var ts: [(String, Tensor)] = [], ms: [(String, Module)] = []
        visit(prefix: "", tensors: &ts, modules: &ms)
        return ms
    }
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.count } }

    public func train(_ on: Bool = true) { for (_, m) in namedModules() { m.training = on } }
    public func eval() { train(false) }

    /// Freezes (or unfreezes) every tensor whose key satisfies `predicate`.
    public func setRequiresGrad(_ flag: Bool, where predicate: (String) -> Bool = { _ in true }) throws {
        for (k, t) in namedTensors() where predicate(k) && t.dtype.isFloatingPoint && !isBuffer(k) {
            try t.requiresGrad(flag)
        }
    }
    func isBuffer(_ key: String) -> Bool { false }

    /// Moves every parameter, buffer and `Constant` to `device` in place (`module.to(device)`): the tensors keep their
    /// identity (optimizers and parameter groups made before still refer to them); gradients are dropped. Loading a
    /// checkpoint onto any device: load on the CPU, then move (`map_location`).
    public func move(to device: Device) throws {
        for (_, m) in namedModules() {
            var mirror: Mirror? = Mirror(reflecting: m)
            while let cur = mirror {
                for child in cur.children {
                    for t in Self.movable(child.value) where t.device != device { try t.rebind(to: t.to(device)) }
                }
                mirror = cur.superclassMirror
            }
        }
    }

    /// The tensors a stored property holds directly: a `Tensor`, a `Constant`, or an optional of either.
    private static func movable(_ value: Any) -> [Tensor] {
        switch value {
        case let t as Tensor: return [t]
        case let c as Constant: return [c.value]
        default:
            let mirror = Mirror(reflecting: value)
            guard mirror.displayStyle == .optional, let inner = mirror.children.first?.value else { return [] }
            return movable(inner)
        }
    }

    /// Sets every gradient to nil (`zero_grad(set_to_none=True)`).
    public func zeroGrad() throws { for (_, t) in namedParameters() { try t.setGrad(nil) } }

    /// The state dict: key → tensor (detached views of the live tensors).
    public func stateDict() throws -> [(String, Tensor)] { try namedTensors().map { ($0.0, try $0.1.detach()) } }

    /// Copies `state` into the module's tensors (cast to each tensor's dtype). Strict mode throws listing every
    /// missing, unexpected and shape-mismatched key; otherwise those are skipped and returned.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor], strict: Bool = true) throws -> LoadReport {
        var report = LoadReport()
        let own = namedTensors()
        let ownKeys = Set(own.map(\.0))
        report.unexpected = state.keys.filter { !ownKeys.contains($0) }.sorted()
        try withNoGrad {
            for (key, t) in own {
                guard let src = state[key] else { report.missing.append(key); continue }
                guard src.shape == t.shape else {
                    report.mismatched.append("\(key): checkpoint \(src.shape), model \(t.shape)"); continue
                }
                try t.copy_(src.to(t.dtype))
                report.loaded.append(key)
            }
        }
        if strict, !report.isClean { throw TorchError("state dict does not match the model:\n" + report.description) }
        return report
    }
}

/// What `loadStateDict` did.
public struct LoadReport: CustomStringConvertible {
    public var loaded: [String] = []
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var mismatched: [String] = []
    public init() {}
    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }
    public var description: String {
        var lines = ["loaded \(loaded.count) tensors"]
        if !missing.isEmpty { lines.append("missing keys (\(missing.count)): " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty {
            lines.append("unexpected keys (\(unexpected.count)): " + unexpected.joined(separator: ", "))
        }
        if !mismatched.isEmpty {
            lines.append("shape mismatches (\(mismatched.count)): " + mismatched.joined(separator: "; "))
        }
        return lines.joined(separator: "\n")
    }
}
