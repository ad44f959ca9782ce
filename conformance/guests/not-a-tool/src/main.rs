//! A WASI command program: the wrong world for a tool.
fn main() {
    // The component exports wasi:cli/run; the host must refuse it.
    let _ = std::hint::black_box(1 + 1);
}
