"""Protocol Buffers definitions and their generated Python stubs (see scripts/gen_protos.sh)."""
