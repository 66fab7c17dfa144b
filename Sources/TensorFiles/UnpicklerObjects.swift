/// Construction of allowlisted objects and conversion of the finished stack item to a `PickleValue`.
extension Unpickler {
    func global(_ module: String, _ name: String) throws -> Item {
        let full = module + "." + name
        guard Self.allowedGlobals.contains(full) else {
            throw fail(
                "refusing global '\(full)': not in the weights-only allowlist (tensors, OrderedDict, "
                    + "argparse.Namespace, numpy scalars)")
        }
        return .global(full)
    }

    private func tensorDType(_ item: Item) -> TensorDType? {
        guard case .global(let g) = item, g.hasPrefix("torch.") else { return nil }
        return TensorDType(torchName: String(g.dropFirst(6)))
    }

    private func int(_ item: Item, _ what: String) throws -> Int {
        guard case .value(let v) = item, let i = v.intValue else { throw fail("\(what) must be an integer") }
        return i
    }

    private func ints(_ item: Item, _ what: String) throws -> [Int] {
        guard case .tuple(let t) = item else { throw fail("\(what) must be a tuple of integers") }
        return try t.map { try int($0, what) }
    }

    func reduce(_ callable: Item, _ args: [Item]) throws -> Item {
        guard case .global(let name) = callable else { throw fail("REDUCE on a value that is not an allowed global") }
        switch name {
        case "collections.OrderedDict":
            let box = DictBox(ordered: true)
            if case .list(let pairs)? = args.first {
                for p in pairs.items {
                    guard case .tuple(let kv) = p, kv.count == 2 else { throw fail("OrderedDict items must be pairs") }
                    box.entries.append((kv[0], kv[1]))
                }
            }
            return .dict(box)
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3":
            guard args.count >= 4, case .storage(let storage) = args[0] else {
                throw fail("\(name) expects (storage, offset, size, stride, …)")
            }
            var dtype = storage.dtype
            if name.hasSuffix("v3") {
                guard args.count >= 7, let d = tensorDType(args[6]) else {
                    throw fail("\(name) expects a torch dtype as its 7th argument")
                }
                dtype = d
            }
            var requiresGrad = false
            if args.count > 4, case .value(.bool(let b)) = args[4] { requiresGrad = b }
            let ref = TensorRef(
                storage: storage, dtype: dtype, storageOffset: try int(args[1], "storage offset"),
                shape: try ints(args[2], "tensor size"), strides: try ints(args[3], "tensor stride"),
                requiresGrad: requiresGrad)
            guard ref.shape.count == ref.strides.count else {
                throw fail("tensor size \(ref.shape) and stride \(ref.strides) differ in rank")
            }
            return .value(.tensor(ref))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard args.count >= 2, case .value(.tensor(var t)) = args[0] else {
                throw fail("\(name) expects (tensor, requires_grad, …)")
            }
            if case .value(.bool(let b)) = args[1] { t.requiresGrad = b }
            return .value(.tensor(t))
        case "torch.Size":
            guard case .tuple(let dims)? = args.first else { throw fail("torch.Size expects a tuple") }
            return .tuple(dims)
        case "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset":
            let box = ListBox()
            if case .list(let l)? = args.first {
                box.items = l.items
            } else if case .tuple(let t)? = args.first {
                box.items = t
            }
            return .list(box)
        case "_codecs.encode":
            guard args.count == 2, case .value(.string(let s)) = args[0], case .value(.string(let enc)) = args[1],
                ["latin1", "latin-1", "iso-8859-1"].contains(enc.lowercased())
            else {
                throw fail("_codecs.encode is only allowed as encode(str, 'latin1')")
            }
            var out: [UInt8] = []
            for u in s.unicodeScalars {
                guard u.value < 256 else {
                    throw fail("_codecs.encode: character U+\(String(u.value, radix: 16)) is not latin-1")
                }
                out.append(UInt8(u.value))
            }
            return .value(.bytes(out))
        case "numpy.dtype":
            guard case .value(.string(let d))? = args.first else { throw fail("numpy.dtype expects a type string") }
            return .numpyDtype(d)
        case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar":
            guard args.count == 2, case .numpyDtype(let descr) = args[0], case .value(.bytes(let raw)) = args[1] else {
                throw fail("numpy scalar expects (dtype, bytes)")
            }
            guard let dt = TensorDType(numpyDescr: descr), dt != .bfloat16, raw.count == dt.elementSize else {
                throw fail("unsupported numpy scalar of dtype '\(descr)' with \(raw.count) bytes")
            }
            let v = RawTensor(unchecked: dt, shape: [], bytes: raw).doubles()[0]
            switch dt {
            case .bool: return .value(.bool(v != 0))
            case .int64: return .value(.int(raw.withUnsafeBytes { Int($0.loadUnaligned(as: Int64.self).littleEndian) }))
            case .int32, .int16, .int8, .uint8: return .value(.int(Int(v)))
            default: return .value(.double(v))
            }
        default:
            throw fail("global '\(name)' cannot be called with REDUCE")
        }
    }

    func newObject(_ cls: Item, _ args: Item) throws -> Item {
        guard case .global(let name) = cls else { throw fail("NEWOBJ on a value that is not an allowed class") }
        switch name {
        case "argparse.Namespace": return .object(ObjectBox(name: name))
        case "collections.OrderedDict": return .dict(DictBox(ordered: true))
        default: return try reduce(cls, { if case .tuple(let t) = args { t } else { [args] } }())
        }
    }

    func build(_ target: Item, _ state: Item) throws {
        switch target {
        case .object(let box):
            // Namespace: state is the attribute dict (or (dict, slots) pair).
            if case .tuple(let t) = state, let first = t.first { box.state = first } else { box.state = state }
        case .numpyDtype(let d):
            if case .tuple(let t) = state, t.count > 1, case .value(.string(">")) = t[1],
                let dt = TensorDType(numpyDescr: "<" + d.drop { "<>|=".contains($0) }), dt.elementSize > 1
            {
                throw fail("big-endian numpy dtype '\(d)' is not supported")
            }
        case .value(.tensor), .dict:
            break  // tensor subclass / OrderedDict state: nothing to keep for plain tensors and dicts
        default:
            throw fail("BUILD on an object that cannot take state")
        }
    }

    func persistent(_ pid: Item) throws -> Item {
        guard case .tuple(let t) = pid, t.count >= 5, case .value(.string("storage")) = t[0] else {
            throw fail("unsupported persistent id (expected ('storage', type, key, location, numel))")
        }
        guard case .global(let type) = t[1] else { throw fail("persistent id storage type is not an allowed global") }
        let dtype: TensorDType
        if type == "torch.storage.UntypedStorage" || type == "torch.UntypedStorage" {
            dtype = .uint8
        } else if let d = TensorDType(torchStorageName: String(type.dropFirst(6))) {
            dtype = d
        } else {
            throw fail("unsupported storage type '\(type)'")
        }
        guard case .value(.string(let key)) = t[2] else { throw fail("storage key must be a string") }
        let numel = try int(t[4], "storage size")
        guard let loadStorage else { throw fail("persistent storage '\(key)' found outside a torch.save archive") }
        return .storage(try loadStorage(dtype, key, numel))
    }

    /// Converts the final item (and its boxes) into a `PickleValue`.
    func finish(_ item: Item, depth: Int) throws -> PickleValue {
        guard depth < 500 else { throw fail("value nested too deeply (or recursive)") }
        switch item {
        case .value(let v): return v
        case .list(let box): return .list(try box.items.map { try finish($0, depth: depth + 1) })
        case .tuple(let items): return .tuple(try items.map { try finish($0, depth: depth + 1) })
        case .dict(let box):
            var d = PickleDict(isOrderedDict: box.ordered)
            d.entries.reserveCapacity(box.entries.count)
            var seen: [PickleKey: Int] = [:]
            for (k, v) in box.entries {
                let key: PickleKey
                switch try finish(k, depth: depth + 1) {
                case .string(let s): key = .string(s)
                case .int(let i): key = .int(i)
                case .bool(let b): key = .int(b ? 1 : 0)
                default: throw fail("unsupported dict key (only str and int keys are supported)")
                }
                let value = try finish(v, depth: depth + 1)
                if let i = seen[key] {
                    d.entries[i].value = value
                } else {
                    seen[key] = d.entries.count
                    d.entries.append((key, value))
                }
            }
            return .dict(d)
        case .object(let box): return .object(name: box.name, state: try finish(box.state, depth: depth + 1))
        case .global(let g): return .object(name: g, state: .none)
        case .numpyDtype(let d): return .object(name: "numpy.dtype", state: .string(d))
        case .storage: throw fail("a bare storage is not supported as a value")
        case .mark: throw fail("unexpected MARK in result")
        }
    }
}
