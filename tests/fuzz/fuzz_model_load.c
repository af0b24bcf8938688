/*
 * fuzz_model_load.c - libFuzzer target for the TF.js graph-model loader.
 *
 * Input: model.json bytes, then a NUL, then the weight bytes (every group's
 * shards concatenated, as px_ml_model_load_mem takes them); without a NUL
 * the whole input is model.json and there are no weights. A model that
 * loads is also run once on zeros, so shape inference, planning and the
 * kernels see whatever the loader accepted. Limits are small to keep each
 * execution fast.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined -Isrc, this file,
 * every .c of src/ml, src/core/{buf,err,log}.c, -ljansson -ldnnl -lm.
 * Seeds: tests/fuzz/corpus/model_load/
 */
#include "core/common.h"
#include "ml/ml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t njson = nul ? (size_t)(nul - data) : size;
	const uint8_t *w = nul ? nul + 1 : NULL;
	size_t nw = nul ? size - njson - 1 : 0;
	struct px_ml_model *m = NULL;
	struct px_ml_ctx *c = NULL;
	struct px_errbuf eb = {0};
	struct px_ml_opts o;
	float *in = NULL, *out = NULL;
	size_t nin, nout;

	px_ml_opts_init(&o);
	o.max_json_bytes = 1 << 20;
	o.max_weight_bytes = 4 << 20;
	o.max_arena_bytes = 16 << 20;
	o.max_nodes = 2000;
	o.max_flops = 5e7; /* keeps each run under a few milliseconds */
	if (px_ml_model_load_mem(data, njson, w, nw, &o, &m, &eb))
		return 0;
	nin = px_ml_model_input_size(m);
	nout = px_ml_model_output_size(m, 0);
	in = calloc(nin + 1, sizeof(*in));
	out = calloc(nout + 1, sizeof(*out));
	if (in && out && !px_ml_ctx_new(m, &c, &eb))
		(void)px_ml_run(c, in, nin, out, nout, &eb);
	px_ml_ctx_free(c);
	px_ml_model_free(m);
	free(in);
	free(out);
	return 0;
}
