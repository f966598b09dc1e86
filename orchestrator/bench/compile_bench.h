/* orch-bench --compile: the compiler alone at issue 20's size (compile_bench.c) */
#ifndef ORCH_COMPILE_BENCH_H
#define ORCH_COMPILE_BENCH_H

/* prints one RESULT P19 line; 0 on success */
int compile_bench(unsigned n, unsigned runs, const char *transport, const char *overlay);

#endif
