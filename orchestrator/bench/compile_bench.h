/* orch-bench --compile: the compiler alone at issue 20's size (compile_bench.c) */
#ifndef ORCH_COMPILE_BENCH_H
#define ORCH_COMPILE_BENCH_H

/* prints one RESULT P19 line; 0 on success.  hub_bundle (NULL: none): write
 * hub1's compact bundle there (version 1) */
int compile_bench(unsigned n, unsigned runs, const char *transport, const char *overlay,
		  const char *hub_bundle);

#endif
