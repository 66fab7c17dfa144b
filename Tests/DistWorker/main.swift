// `stmae-dist-worker <check>`: a test-only executable (in no product), one process per rank of the distributed tests
// (Tests/DistributedTests) and of the all-reduce / data-parallel benchmarks of docs/distributed.md, e.g.
//     stmae launch --nproc_per_node 2 -- .build/release/stmae-dist-worker bench --mb 350 --iters 5
// Allocator.swift, KernelOptions.swift and DataParallelPretrain.swift here are links to the CLI's files, so the worker
// runs the CLI's own data-parallel wiring, kernel switches and allocator setting.
import Distributed

Launcher.bindToLauncher()  // a rank of `stmae launch` dies with it
tuneAllocator()
DistWorker.main()
