import CTorch

/// Access to the engine handle for other C shims of this package (the c10d binding in `Distributed`).
extension Tensor {
    /// The libtorch handle; valid while this value (or a copy) is alive.
    @_spi(Engine) public var engineHandle: ct_tensor { raw }
}
