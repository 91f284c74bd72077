"""Every message that crosses a stream (msgspec Structs), and nothing else."""
