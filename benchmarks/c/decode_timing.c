/*
 * Times the C reference's streaming decoder on a file (used by benchmarks/bridge_resync.py; built by
 * make -C firmware_bridge/c decode_timing):
 *   decode_timing MAX_PAYLOAD CHUNK REPEATS FILE   ->  "<median seconds per pass> <events> <packets>"
 * The file is fed in CHUNK-byte pieces to a decoder for payloads up to MAX_PAYLOAD, REPEATS times.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tlfseg_proto.h"

#ifndef TLFSEG_DECODER_BUFFER /* an older reference (the benchmark's base commit): the buffer held messages alone */
#define TLFSEG_DECODER_BUFFER(max_payload) (TLFSEG_OVERHEAD + (max_payload))
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t cap, chunk, size, pos, n;
    long repeats, r;
    unsigned long events = 0, packets = 0;
    uint8_t *buf, *data;
    double *times;
    FILE *f;
    if (argc != 5) {
        fprintf(stderr, "usage: %s MAX_PAYLOAD CHUNK REPEATS FILE\n", argv[0]);
        return 2;
    }
    cap = TLFSEG_DECODER_BUFFER(strtoul(argv[1], NULL, 10));
    chunk = strtoul(argv[2], NULL, 10);
    repeats = strtol(argv[3], NULL, 10);
    f = fopen(argv[4], "rb");
    if (!f || repeats < 1 || chunk < 1) return 2;
    fseek(f, 0, SEEK_END);
    size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc(size ? size : 1);
    buf = malloc(cap);
    times = malloc(sizeof *times * (size_t)repeats);
    if (!data || !buf || !times || fread(data, 1, size, f) != size) return 2;
    fclose(f);
    for (r = 0; r < repeats; r++) {
        tlfseg_decoder d;
        tlfseg_event ev;
        double start = now();
        events = 0;
        if (tlfseg_decoder_init(&d, buf, cap) != 0) return 2;
        for (pos = 0; pos < size;) {
            n = size - pos < chunk ? size - pos : chunk;
            while (n) {
                size_t taken = tlfseg_decoder_feed(&d, data + pos, n);
                pos += taken;
                n -= taken;
                while (tlfseg_decoder_next(&d, &ev)) events++;
            }
        }
        times[r] = now() - start;
        packets = d.packets;
    }
    qsort(times, (size_t)repeats, sizeof *times, cmp);
    printf("%.6f %lu %lu\n", times[repeats / 2], events, packets);
    return 0;
}
