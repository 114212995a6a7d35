"""Pure, synchronous rendering run in the render pool: open, render, encode, assemble, stamp."""
