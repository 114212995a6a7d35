"""pagemill workers: arq jobs and the pure rendering code they run in a process pool."""
