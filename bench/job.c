/*
 * job: the one job document every benchmark submits, so that the HTTP
 * generator, the local-spool benchmark and beanstalkd all carry the same
 * bytes.
 */
#include <stdio.h>

#include "bench.h"

int bench_job(char *out, size_t cap, const char *script, const char *run, long seq)
{
	static const char *const act[] = { "relu", "tanh", "sigmoid", "elu" };
	static const char *const opt[] = { "adam", "sgd", "rmsprop" };
	double lr = 0.0001 * (double)(1 + seq % 97);

	return snprintf(out, cap,
		"{\"scriptName\":\"%s\",\"projectName\":\"wine_data\","
		"\"dataFileName\":\"wine_data.csv\",\"dependentVariable\":\"alcohol\","
		"\"hiddenLayers\":[{\"activation\":\"%s\",\"widthModifier\":%ld,\"dropout\":0.%ld},"
		"{\"activation\":\"%s\",\"widthModifier\":1,\"dropout\":0}],"
		"\"optimizer\":\"%s\",\"learningRate\":%.6f,\"l1\":0,\"l2\":0.0001,"
		"\"epochs\":%ld,\"batchSize\":%d,\"patienceRate\":0.01,\"patience\":15,"
		"\"scalerType\":\"standard\",\"seed\":%ld,\"crossValidateOnly\":false,"
		"\"crossValidationFolds\":5,\"trainFraction\":0.8,\"shuffle\":true,"
		"\"sweep\":{\"name\":\"wine-mlp-grid\",\"owner\":\"ml-team\","
		"\"created\":\"2026-11-27T05:00:00Z\"},"
		"\"bench\":{\"run\":\"%s\",\"seq\":%ld}}",
		script, act[seq % 4], 1 + seq % 4, seq % 5, act[(seq / 4) % 4], opt[seq % 3], lr,
		50 + seq % 100, 16 << (seq % 4), seq, run, seq);
}
