// `stmae-dist-worker <check>`: a test-only executable (in no product), one process per rank of the distributed tests
// (Tests/DistributedTests) and of the all-reduce / data-parallel benchmarks in docs/distributed.md. Allocator,
// KernelOptions and DataParallelPretrain are links to the CLI's files, so it runs the CLI's code:
//     stmae launch --nproc_per_node 2 -- .build/release/stmae-dist-worker bench --mb 350 --iters 5
tuneAllocator()  // as `stmae` does, so the benchmarks measure what the CLI runs
DistWorker.main()
