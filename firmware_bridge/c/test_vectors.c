/*
 * Checks the C reference against the shared vectors the Python codec wrote (tests/vectors, written by
 * firmware_bridge/testing/vectors.py):
 *   make tests (Makefile: builds it, then runs ./build/native/test_vectors ../../tests/vectors)
 * Every message file must decode to the expected fields and re-encode byte for byte; stream.bin must
 * give the events in stream_expected.txt, whatever chunk sizes it is fed in.
 * With --events MAX_PAYLOAD FILE... it prints the events of any streams instead (the fuzz test compares
 * them with the Python decoder's); with --corpus MAX_PAYLOAD FILE, one line per record of a corpus file
 * (records: u32 little-endian length, then that many bytes), for differential fuzzing at scale; with --rle FILE,
 * the verdict on each RLE mask of such a file (its first 4 bytes the pixel count).
 * Build it for 32-bit targets too (make tests32, -m32): lengths near 4 GiB must not wrap a 32-bit size_t.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlfseg_proto.h"

#define MAX_FILE (64u * 1024u)
/* a float constant rounded to float: on x87 (gcc -m32) 0.075f alone keeps long double precision */
#define F(x) ((float)(x))
#define MAX_EVENTS 64

static int checks, failures;

#define CHECK(cond)                                                             \
    do {                                                                        \
        checks++;                                                               \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                       \
    } while (0)

static const char *dir;
static uint8_t file_buf[MAX_FILE];
static uint8_t dec_buf[TLFSEG_DECODER_BUFFER(MAX_FILE)];
static uint8_t out_buf[MAX_FILE];
static uint8_t payload_buf[MAX_FILE];

static size_t load(const char *name, uint8_t *dst, size_t cap) {
    char path[1024];
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    n = fread(dst, 1, cap, f);
    fclose(f);
    return n;
}

static int str_is(tlfseg_str s, const char *text) { return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0; }

/* Decode a one-message file with header flags `flags`; returns its payload (pointing into dec_buf). */
static const uint8_t *decode_flagged(const char *name, uint8_t type, uint16_t flags, uint32_t seq, uint32_t *length,
                                     size_t *size) {
    tlfseg_decoder d;
    tlfseg_event ev;
    *size = load(name, file_buf, sizeof file_buf);
    tlfseg_decoder_init(&d, dec_buf, sizeof dec_buf);
    CHECK(tlfseg_decoder_feed(&d, file_buf, *size) == *size);
    CHECK(tlfseg_decoder_next(&d, &ev) == 1);
    CHECK(!ev.is_fault && ev.type == type && ev.seq == seq && ev.flags == flags);
    *length = ev.length;
    return ev.payload;
}

/* Decode a one-message file without header flags; returns its payload and checks type and seq. */
static const uint8_t *decode_one(const char *name, uint8_t type, uint32_t seq, uint32_t *length, size_t *size) {
    return decode_flagged(name, type, 0, seq, length, size);
}

/* pack payload -> whole message, and compare with the file */
static void check_reencode(uint8_t type, uint32_t seq, size_t payload_len, size_t file_size) {
    size_t n = tlfseg_pack(out_buf, sizeof out_buf, type, 0, seq, payload_buf, (uint32_t)payload_len);
    CHECK(payload_len > 0);
    CHECK(n == file_size && memcmp(out_buf, file_buf, n) == 0);
}

static void test_crc(void) {
    const uint8_t *text = (const uint8_t *)"123456789";
    CHECK(tlfseg_crc32(text, 9) == 0xCBF43926u);
    CHECK(tlfseg_crc32_update(tlfseg_crc32(text, 4), text + 4, 5) == 0xCBF43926u);
    CHECK(tlfseg_crc32(text, 0) == 0);
}

static void test_hello(void) {
    tlfseg_hello h;
    uint32_t len;
    size_t size;
    const uint8_t *p = decode_one("hello_scanner.bin", TLFSEG_HELLO, 0, &len, &size);
    CHECK(tlfseg_hello_parse(p, len, &h) == 0);
    CHECK(h.protocol_version == 1 && h.role == TLFSEG_ROLE_SCANNER && h.max_payload == 65536);
    CHECK(h.max_width == 0 && h.max_height == 0 && h.input_width == 0 && h.input_height == 0);
    CHECK(h.pixel_formats == ((1u << TLFSEG_GREY8) | (1u << TLFSEG_BGR8)));
    CHECK(h.mask_encodings == (1u << TLFSEG_MASK_RLE));
    CHECK(str_is(h.software, "fw-demo 1.0") && h.model.len == 0 && h.n_classes == 0);
    check_reencode(TLFSEG_HELLO, 0, tlfseg_hello_pack(payload_buf, sizeof payload_buf, &h), size);

    p = decode_one("hello_runtime.bin", TLFSEG_HELLO, 0, &len, &size);
    CHECK(tlfseg_hello_parse(p, len, &h) == 0);
    CHECK(h.role == TLFSEG_ROLE_RUNTIME && h.max_width == 2048 && h.max_height == 2048 && h.max_payload == 8388608);
    CHECK(h.input_width == 256 && h.input_height == 256);
    CHECK(h.pixel_formats == 0x1E && h.mask_encodings == 0x07);
    CHECK(str_is(h.software, "tlfseg test") && str_is(h.model, "tlfseg_unet_int8.tflite int8"));
    CHECK(h.n_classes == 3 && str_is(h.classes[0], "above") && str_is(h.classes[1], "fascia"));
    CHECK(str_is(h.classes[2], "below"));
    check_reencode(TLFSEG_HELLO, 0, tlfseg_hello_pack(payload_buf, sizeof payload_buf, &h), size);
    CHECK(tlfseg_hello_pack(payload_buf, 10, &h) == 0); /* too small a buffer: nothing */
    CHECK(tlfseg_hello_parse(p, len - 1, &h) == TLFSEG_E_MALFORMED);
}

static void test_config(void) {
    tlfseg_config c;
    uint32_t len;
    size_t size;
    const uint8_t *p = decode_one("config.bin", TLFSEG_CONFIG, 1, &len, &size);
    CHECK(tlfseg_config_parse(p, len, &c) == 0);
    CHECK(c.roi_x == 110 && c.roi_y == 40 && c.roi_w == 400 && c.roi_h == 420);
    CHECK(c.mm_per_px == F(0.075f) && c.depth_mm == F(0.0f));
    CHECK(c.min_coverage == F(0.5f) && c.min_confidence == F(0.6f));
    check_reencode(TLFSEG_CONFIG, 1, tlfseg_config_pack(payload_buf, sizeof payload_buf, &c), size);
}

static void test_frames(void) {
    tlfseg_frame f;
    uint32_t len, i, crc;
    size_t size, pos;
    const uint8_t *p = decode_one("frame_grey8.bin", TLFSEG_FRAME, 2, &len, &size);
    CHECK(tlfseg_frame_parse(p, len, &f) == 0);
    CHECK(f.frame_id == 7 && f.timestamp_us == 1234567890123ull && f.format == TLFSEG_GREY8);
    CHECK(f.mask == TLFSEG_MASK_RLE && f.width == 5 && f.height == 3 && f.stride == 8 && f.data_len == 24);
    for (i = 0; i < 24; i++) CHECK(f.data[i] == i);
    check_reencode(TLFSEG_FRAME, 2, tlfseg_frame_pack(payload_buf, sizeof payload_buf, &f), size);

    /* zero copy: header, frame head, pixels from their own buffer, trailer with a running CRC */
    tlfseg_pack_header(out_buf, TLFSEG_FRAME, 0, 2, TLFSEG_FRAME_HEAD_SIZE + f.data_len);
    pos = TLFSEG_HEADER_SIZE;
    tlfseg_frame_head_pack(out_buf + pos, &f);
    crc = tlfseg_crc32_update(0, out_buf + pos, TLFSEG_FRAME_HEAD_SIZE);
    pos += TLFSEG_FRAME_HEAD_SIZE;
    memcpy(out_buf + pos, f.data, f.data_len);
    crc = tlfseg_crc32_update(crc, f.data, f.data_len);
    pos += f.data_len;
    tlfseg_pack_trailer(out_buf + pos, crc);
    pos += TLFSEG_TRAILER_SIZE;
    CHECK(pos == size && memcmp(out_buf, file_buf, size) == 0);

    p = decode_one("frame_bgr8.bin", TLFSEG_FRAME, 3, &len, &size);
    CHECK(tlfseg_frame_parse(p, len, &f) == 0);
    CHECK(f.frame_id == 8 && f.timestamp_us == 1234567923456ull && f.format == TLFSEG_BGR8);
    CHECK(f.mask == TLFSEG_MASK_NONE && f.width == 2 && f.height == 2 && f.stride == 6 && f.data_len == 12);
    CHECK(f.data[0] == 100 && f.data[11] == 111);
    check_reencode(TLFSEG_FRAME, 3, tlfseg_frame_pack(payload_buf, sizeof payload_buf, &f), size);
}

static void test_results(void) {
    tlfseg_result r;
    uint32_t len, i;
    size_t size;
    uint8_t mask[20 * 15];
    const uint8_t *p = decode_one("result.bin", TLFSEG_RESULT, 5, &len, &size);
    CHECK(tlfseg_result_parse(p, len, &r) == 0);
    CHECK(r.frame_id == 7 && r.timestamp_us == 1234567890123ull);
    CHECK(r.quality == (TLFSEG_Q_LOW_CONFIDENCE | TLFSEG_Q_ROI_DETECTED));
    CHECK(r.roi_x == 0 && r.roi_y == 0 && r.roi_w == 20 && r.roi_h == 15);
    CHECK(r.thickness_mm == F(1.25f) && r.thickness_px == F(12.5f) && r.thickness_iqr_px == F(1.5f));
    CHECK(r.coverage == F(0.875f) && r.confidence == F(0.5f));
    CHECK(r.echo_fascia == F(143.5f) && r.echo_above == F(60.25f) && r.echo_below == F(80.0f));
    CHECK(r.latency.queue_us == 1 && r.latency.decode_us == 2 && r.latency.preprocess_us == 3);
    CHECK(r.latency.inference_us == 4 && r.latency.postprocess_us == 5 && r.latency.measure_us == 6);
    CHECK(r.latency.total_us == 7);
    CHECK(r.n_skipped == 3 && tlfseg_result_skipped(&r, 0) == 3 && tlfseg_result_skipped(&r, 1) == 4);
    CHECK(tlfseg_result_skipped(&r, 2) == 6);
    CHECK(r.mask_encoding == TLFSEG_MASK_RLE && r.mask_width == 20 && r.mask_height == 15);
    CHECK(tlfseg_rle_decode(r.mask, r.mask_len, mask, sizeof mask) == 0);
    for (i = 0; i < sizeof mask; i++) CHECK(mask[i] == (i < 140 ? 0 : i < 180 ? 1 : 2));
    CHECK(tlfseg_rle_decode(r.mask, r.mask_len, mask, sizeof mask - 1) == -1); /* runs overflow */
    CHECK(tlfseg_rle_decode(r.mask, r.mask_len - 1, mask, sizeof mask) == -1); /* runs cut short */
    {   /* a 5-byte run length with bits above 32 (3 << 32 here) is too long, not 0 (issue 25) */
        static const uint8_t high_bits[] = {0x01, 0x80, 0x80, 0x80, 0x80, 0x30};
        CHECK(tlfseg_rle_decode(high_bits, sizeof high_bits, mask, 0) == -1);
    }

    p = decode_one("result_skips_only.bin", TLFSEG_RESULT, 6, &len, &size);
    CHECK(tlfseg_result_parse(p, len, &r) == 0);
    CHECK(r.frame_id == TLFSEG_NO_ID && r.quality == 0 && r.coverage == F(0.0f));
    CHECK(r.thickness_mm != r.thickness_mm && r.echo_fascia != r.echo_fascia); /* NaN: no value */
    CHECK(r.n_skipped == 2 && tlfseg_result_skipped(&r, 0) == 9 && tlfseg_result_skipped(&r, 1) == 10);
    CHECK(r.mask_encoding == TLFSEG_MASK_NONE && r.mask_len == 0);

    p = decode_one("result_unfamiliar.bin", TLFSEG_RESULT, 18, &len, &size);
    CHECK(tlfseg_result_parse(p, len, &r) == 0);
    CHECK(r.frame_id == 9 && r.quality == (TLFSEG_Q_UNFAMILIAR | TLFSEG_Q_OTHER | TLFSEG_Q_NO_SCALE));
    CHECK((r.quality & 0xFFu) != 0); /* not good for firmware that knows only bits 0-7: OTHER comes with bit 10 */
    CHECK((r.quality & TLFSEG_Q_MEASUREMENT_FLAGS) == (TLFSEG_Q_UNFAMILIAR | TLFSEG_Q_OTHER));
    CHECK(r.thickness_px == F(12.5f) && r.thickness_mm != r.thickness_mm && r.coverage == F(0.875f));
    CHECK(r.n_skipped == 0 && r.mask_encoding == TLFSEG_MASK_NONE && r.mask_len == 0);
}

static void test_small_messages(void) {
    tlfseg_error e;
    tlfseg_heartbeat hb;
    tlfseg_bye b;
    uint32_t len;
    size_t size;
    const uint8_t *p = decode_one("error.bin", TLFSEG_ERROR, 7, &len, &size);
    CHECK(tlfseg_error_parse(p, len, &e) == 0);
    CHECK(e.code == TLFSEG_E_BAD_FRAME && e.ref_seq == 2 && e.frame_id == 7);
    CHECK(str_is(e.text, "stride 4 is less than width x 1 = 5 bytes"));
    check_reencode(TLFSEG_ERROR, 7, tlfseg_error_pack(payload_buf, sizeof payload_buf, &e), size);

    p = decode_one("heartbeat.bin", TLFSEG_HEARTBEAT, 8, &len, &size);
    CHECK(tlfseg_heartbeat_parse(p, len, &hb) == 0);
    CHECK(hb.timestamp_us == 1000000 && hb.frames_received == 10 && hb.results_sent == 8);
    CHECK(hb.frames_skipped == 2 && hb.errors == 1);
    check_reencode(TLFSEG_HEARTBEAT, 8, tlfseg_heartbeat_pack(payload_buf, sizeof payload_buf, &hb), size);

    p = decode_one("bye.bin", TLFSEG_BYE, 9, &len, &size);
    CHECK(tlfseg_bye_parse(p, len, &b) == 0 && b.reason == TLFSEG_BYE_DONE);
    check_reencode(TLFSEG_BYE, 9, tlfseg_bye_pack(payload_buf, sizeof payload_buf, &b), size);
}

static void check_glide_figures(const tlfseg_glide *g) {
    CHECK(g->frame_id == 7 && g->flags == 0 && g->pairs == 41 && g->flagged == 3 && g->cycles == 2);
    CHECK(g->relative_px[0] == F(0.5f) && g->relative_px[1] == F(-0.25f));
    CHECK(g->relative_mm[0] == F(0.0375f) && g->relative_mm[1] == F(-0.01875f));
    CHECK(g->strain_pct[0] == F(3.75f) && g->strain_pct[1] == F(-1.875f));
    CHECK(g->distance_px[0] == F(13.25f) && g->distance_px[1] == F(12.75f));
    CHECK(g->shear_px[0] == F(19.5f) && g->shear_px[1] == F(18.0f));
    CHECK(g->shear_mm[0] == F(1.4625f) && g->shear_mm[1] == F(1.35f));
    CHECK(g->shear_strain_pct[0] == F(147.25f) && g->shear_strain_pct[1] == F(141.5f));
    CHECK(g->cycle_shear_px[0] == F(11.75f) && g->cycle_shear_px[1] == F(10.5f));
    CHECK(g->cycle_shear_mm[0] == F(0.88125f) && g->cycle_shear_mm[1] == F(0.7875f));
    CHECK(g->cycle_strain_pct[0] == F(88.5f) && g->cycle_strain_pct[1] == F(82.25f));
}

/* the gliding extension: asked for in the HELLO's header flags; GLIDE of this layout, of a later one, damaged */
static void test_glide(void) {
    tlfseg_hello h;
    tlfseg_glide g;
    uint32_t len;
    size_t size;
    int i;
    const uint8_t *p = decode_flagged("hello_scanner_glide.bin", TLFSEG_HELLO, TLFSEG_HELLO_F_GLIDE, 10, &len, &size);
    CHECK(tlfseg_hello_parse(p, len, &h) == 0 && h.role == TLFSEG_ROLE_SCANNER && str_is(h.software, "fw-demo 1.1"));

    p = decode_one("glide.bin", TLFSEG_GLIDE, 11, &len, &size);
    CHECK(len == TLFSEG_GLIDE_SIZE && tlfseg_glide_parse(p, len, &g) == 0 && g.version == 1);
    check_glide_figures(&g);
    check_reencode(TLFSEG_GLIDE, 11, tlfseg_glide_pack(payload_buf, sizeof payload_buf, &g), size);
    CHECK(tlfseg_glide_pack(payload_buf, TLFSEG_GLIDE_SIZE - 1, &g) == 0);
    CHECK(tlfseg_glide_parse(p, len - 1, &g) == TLFSEG_E_MALFORMED); /* too short */
    memcpy(payload_buf, p, len);
    payload_buf[len] = 0;
    CHECK(tlfseg_glide_parse(payload_buf, len + 1, &g) == TLFSEG_E_MALFORMED); /* a byte after version 1's fields */
    payload_buf[4] = 0;
    CHECK(tlfseg_glide_parse(payload_buf, len, &g) == TLFSEG_E_MALFORMED); /* layout version 0 */

    p = decode_one("glide_flagged.bin", TLFSEG_GLIDE, 12, &len, &size);
    CHECK(tlfseg_glide_parse(p, len, &g) == 0);
    CHECK(g.frame_id == 8 && g.flags == (TLFSEG_G_NO_PREVIOUS | TLFSEG_G_OTHER) && g.pairs == 0 && g.flagged == 1);
    CHECK(g.relative_px[0] != g.relative_px[0] && g.shear_mm[1] != g.shear_mm[1]); /* NaN: no value */
    CHECK(g.shear_px[0] == F(0.0f) && g.cycle_strain_pct[1] != g.cycle_strain_pct[1]);

    p = decode_one("glide_v2.bin", TLFSEG_GLIDE, 13, &len, &size);
    CHECK(len == TLFSEG_GLIDE_SIZE + 8 && tlfseg_glide_parse(p, len, &g) == 0 && g.version == 2);
    check_glide_figures(&g);
    for (i = 0; i < 8; i++) CHECK(p[TLFSEG_GLIDE_SIZE + i] == i + 1); /* the later fields, left to their reader */
    CHECK(tlfseg_glide_parse(p, TLFSEG_GLIDE_SIZE - 1, &g) == TLFSEG_E_MALFORMED);
}

/* the hint extension: asked for in the HELLO's header flags; HINT of this layout, without a hint, later, damaged */
static void test_hint(void) {
    tlfseg_hello h;
    tlfseg_hint m, built;
    uint32_t len;
    size_t size;
    int i;
    const uint16_t asked = TLFSEG_HELLO_F_GLIDE | TLFSEG_HELLO_F_HINT;
    const uint8_t *p = decode_flagged("hello_scanner_hint.bin", TLFSEG_HELLO, asked, 14, &len, &size);
    CHECK(tlfseg_hello_parse(p, len, &h) == 0 && h.role == TLFSEG_ROLE_SCANNER && str_is(h.software, "fw-demo 1.2"));

    p = decode_one("hint.bin", TLFSEG_HINT, 15, &len, &size);
    CHECK(len == TLFSEG_HINT_SIZE && tlfseg_hint_parse(p, len, &m) == 0 && m.version == 1);
    CHECK(m.range_lo_mm == F(2.5f) && m.range_hi_mm == F(8.0f) && m.hint_mm == F(4.75f));
    check_reencode(TLFSEG_HINT, 15, tlfseg_hint_pack(payload_buf, sizeof payload_buf, &m), size);
    CHECK(tlfseg_hint_pack(payload_buf, TLFSEG_HINT_SIZE - 1, &m) == 0);
    CHECK(tlfseg_hint_parse(p, len - 1, &m) == TLFSEG_E_MALFORMED); /* too short */
    memcpy(payload_buf, p, len);
    payload_buf[len] = 0;
    CHECK(tlfseg_hint_parse(payload_buf, len + 1, &m) == TLFSEG_E_MALFORMED); /* a byte after version 1's fields */
    payload_buf[0] = 0;
    CHECK(tlfseg_hint_parse(payload_buf, len, &m) == TLFSEG_E_MALFORMED); /* layout version 0 */

    /* a range without a hint, built as firmware would: NaN from tlfseg_no_value() */
    built.version = TLFSEG_HINT_VERSION;
    built.range_lo_mm = F(20.0f);
    built.range_hi_mm = F(30.0f);
    built.hint_mm = tlfseg_no_value();
    CHECK(built.hint_mm != built.hint_mm);
    size = load("hint_range_only.bin", file_buf, sizeof file_buf);
    check_reencode(TLFSEG_HINT, 16, tlfseg_hint_pack(payload_buf, sizeof payload_buf, &built), size);
    p = decode_one("hint_range_only.bin", TLFSEG_HINT, 16, &len, &size);
    CHECK(tlfseg_hint_parse(p, len, &m) == 0 && m.range_lo_mm == F(20.0f) && m.hint_mm != m.hint_mm);

    p = decode_one("hint_v2.bin", TLFSEG_HINT, 17, &len, &size);
    CHECK(len == TLFSEG_HINT_SIZE + 8 && tlfseg_hint_parse(p, len, &m) == 0 && m.version == 2);
    CHECK(m.range_lo_mm == F(2.5f) && m.range_hi_mm == F(8.0f) && m.hint_mm == F(4.75f));
    for (i = 0; i < 8; i++) CHECK(p[TLFSEG_HINT_SIZE + i] == i + 1); /* the later fields, left to their reader */
    CHECK(tlfseg_hint_parse(p, TLFSEG_HINT_SIZE - 1, &m) == TLFSEG_E_MALFORMED);
}

/* message-level outcome of a decoder event, as "M type seq" or "F code seq" */
static void describe(const tlfseg_event *ev, char *line, size_t cap) {
    union {
        tlfseg_hello hello;
        tlfseg_config config;
        tlfseg_frame frame;
        tlfseg_result result;
        tlfseg_error error;
        tlfseg_heartbeat heartbeat;
        tlfseg_bye bye;
        tlfseg_glide glide;
        tlfseg_hint hint;
    } m;
    int rc;
    if (ev->is_fault) {
        snprintf(line, cap, "F %u %lu", (unsigned)ev->code, (unsigned long)ev->seq);
        return;
    }
    switch (ev->type) {
    case TLFSEG_HELLO: rc = tlfseg_hello_parse(ev->payload, ev->length, &m.hello); break;
    case TLFSEG_CONFIG: rc = tlfseg_config_parse(ev->payload, ev->length, &m.config); break;
    case TLFSEG_FRAME: rc = tlfseg_frame_parse(ev->payload, ev->length, &m.frame); break;
    case TLFSEG_RESULT: rc = tlfseg_result_parse(ev->payload, ev->length, &m.result); break;
    case TLFSEG_ERROR: rc = tlfseg_error_parse(ev->payload, ev->length, &m.error); break;
    case TLFSEG_HEARTBEAT: rc = tlfseg_heartbeat_parse(ev->payload, ev->length, &m.heartbeat); break;
    case TLFSEG_BYE: rc = tlfseg_bye_parse(ev->payload, ev->length, &m.bye); break;
    case TLFSEG_GLIDE: rc = tlfseg_glide_parse(ev->payload, ev->length, &m.glide); break;
    case TLFSEG_HINT: rc = tlfseg_hint_parse(ev->payload, ev->length, &m.hint); break;
    default: rc = TLFSEG_E_UNKNOWN_TYPE;
    }
    if (rc)
        snprintf(line, cap, "F %d %lu", rc, (unsigned long)ev->seq);
    else
        snprintf(line, cap, "M %u %lu", (unsigned)ev->type, (unsigned long)ev->seq);
}

static void test_stream(void) {
    static uint8_t stream[MAX_FILE];
    static char expected_text[8192];
    char expected[MAX_EVENTS][64], got[64];
    static const size_t chunks[] = {1, 2, 3, 7, 64, 1000, MAX_FILE};
    unsigned long max_payload;
    size_t size = load("stream.bin", stream, sizeof stream), n_expected = 0, c, text_len;
    char *line;
    text_len = load("stream_expected.txt", (uint8_t *)expected_text, sizeof expected_text - 1);
    expected_text[text_len] = '\0';
    CHECK(sscanf(expected_text, "max_payload %lu", &max_payload) == 1);
    for (line = strtok(expected_text, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != 'm' && n_expected < MAX_EVENTS) snprintf(expected[n_expected++], 64, "%s", line);

    for (c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        tlfseg_decoder d;
        tlfseg_event ev;
        size_t pos = 0, k = 0;
        CHECK(tlfseg_decoder_init(&d, dec_buf, TLFSEG_DECODER_BUFFER(max_payload)) == 0);
        CHECK(d.max_payload == max_payload);
        while (pos < size) {
            size_t want = size - pos < chunks[c] ? size - pos : chunks[c];
            pos += tlfseg_decoder_feed(&d, stream + pos, want);
            while (tlfseg_decoder_next(&d, &ev)) {
                describe(&ev, got, sizeof got);
                CHECK(k < n_expected && strcmp(got, expected[k]) == 0);
                if (k < n_expected && strcmp(got, expected[k]) != 0)
                    fprintf(stderr, "  chunk %lu, event %lu: got '%s', expected '%s'\n", (unsigned long)chunks[c],
                            (unsigned long)k, got, expected[k]);
                k++;
            }
        }
        snprintf(got, sizeof got, "stats %lu %lu %lu", (unsigned long)d.packets, (unsigned long)d.bad_headers,
                 (unsigned long)d.bytes_skipped);
        CHECK(k + 1 == n_expected && strcmp(got, expected[n_expected - 1]) == 0);
        if (strcmp(got, expected[n_expected - 1]) != 0)
            fprintf(stderr, "  chunk %lu: got '%s', expected '%s'\n", (unsigned long)chunks[c], got,
                    expected[n_expected - 1]);
        CHECK(tlfseg_decoder_pending(&d) == 5); /* the message that has only begun */
    }
}

static void test_limits_and_expire(void) {
    static uint8_t small[TLFSEG_DECODER_BUFFER(64)];
    tlfseg_decoder d;
    tlfseg_event ev;
    size_t size = load("hello_runtime.bin", file_buf, sizeof file_buf), bye_size, pos;
    uint8_t bye[64];

    /* a payload over the limit: TOO_LARGE, skipped without buffering, the next message still decodes */
    CHECK(tlfseg_decoder_init(&d, small, sizeof small) == 0);
    CHECK(size > sizeof small);
    pos = tlfseg_decoder_feed(&d, file_buf, size);
    CHECK(pos == d.cap && d.cap == 64 + TLFSEG_OVERHEAD); /* the buffer is full: decide, then feed the rest */
    CHECK(tlfseg_decoder_next(&d, &ev) == 1 && ev.is_fault && ev.code == TLFSEG_E_TOO_LARGE && ev.seq == 0);
    CHECK(tlfseg_decoder_next(&d, &ev) == 0 && tlfseg_decoder_pending(&d) == size - pos);
    CHECK(tlfseg_decoder_feed(&d, file_buf + pos, size - pos) == size - pos);
    CHECK(tlfseg_decoder_pending(&d) == 0 && d.bytes_skipped == size);
    bye_size = load("bye.bin", bye, sizeof bye);
    CHECK(tlfseg_decoder_feed(&d, bye, bye_size) == bye_size);
    CHECK(tlfseg_decoder_next(&d, &ev) == 1 && !ev.is_fault && ev.type == TLFSEG_BYE && ev.seq == 9);

    /* the line goes quiet mid-message: expire reports TRUNCATED; the next message decodes */
    CHECK(tlfseg_decoder_init(&d, dec_buf, sizeof dec_buf) == 0);
    tlfseg_decoder_feed(&d, file_buf, size - 10);
    CHECK(tlfseg_decoder_next(&d, &ev) == 0 && tlfseg_decoder_pending(&d) == size - 10);
    CHECK(tlfseg_decoder_expire(&d, &ev) == 1 && ev.is_fault && ev.code == TLFSEG_E_TRUNCATED && ev.seq == 0);
    CHECK(tlfseg_decoder_next(&d, &ev) == 0);
    tlfseg_decoder_feed(&d, bye, bye_size);
    CHECK(tlfseg_decoder_next(&d, &ev) == 1 && !ev.is_fault && ev.type == TLFSEG_BYE);
    CHECK(tlfseg_decoder_expire(&d, &ev) == 0);
    CHECK(tlfseg_decoder_init(&d, small, TLFSEG_DECODER_BUFFER(0) - 1) == -1);
    {   /* a buffer of TLFSEG_DECODER_BUFFER(p) bytes takes payloads up to p exactly (init only records the buffer) */
        static const uint32_t payloads[] = {0, 1, 999, 1000, 1024, 65536, 1u << 20, 8u << 20};
        size_t i;
        for (i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
            CHECK(tlfseg_decoder_init(&d, small, TLFSEG_DECODER_BUFFER(payloads[i])) == 0);
            CHECK(d.max_payload == payloads[i]);
            if (payloads[i] == 0) continue;
            CHECK(tlfseg_decoder_init(&d, small, TLFSEG_DECODER_BUFFER(payloads[i]) - 1) == 0);
            CHECK(d.max_payload == payloads[i] - 1);
        }
    }
}

/* headers announcing lengths near 4 GiB: on a 32-bit size_t, 24 + length must not wrap (the decoder would hang) */
static void test_huge_lengths(void) {
    static const uint32_t lengths[] = {0xFFFFFFE8u, 0xFFFFFFFFu, 0xFFFFFFFFu - 23u, 0x7FFFFFFFu};
    static uint8_t small[TLFSEG_DECODER_BUFFER(64)];
    uint8_t head[TLFSEG_HEADER_SIZE], bye[64], junk[100];
    size_t i, bye_size = load("bye.bin", bye, sizeof bye);
    int version, calls;
    memset(junk, 0x55, sizeof junk);
    for (version = 0; version < 2; version++) {
        for (i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
            tlfseg_decoder d;
            tlfseg_event ev;
            uint64_t whole = (uint64_t)TLFSEG_OVERHEAD + lengths[i];
            tlfseg_pack_header(head, TLFSEG_FRAME, 0, 77, lengths[i]);
            if (version) { /* another protocol version: skipped the same way, header CRC redone */
                head[4] = 2;
                tlfseg_pack_trailer(head + 16, tlfseg_crc32(head, 16));
            }
            CHECK(tlfseg_decoder_init(&d, small, sizeof small) == 0);
            CHECK(tlfseg_decoder_feed(&d, head, sizeof head) == sizeof head);
            CHECK(tlfseg_decoder_next(&d, &ev) == 1 && ev.is_fault && ev.seq == 77);
            CHECK(ev.code == (version ? TLFSEG_E_BAD_VERSION : TLFSEG_E_TOO_LARGE));
            for (calls = 0; calls < 10 && tlfseg_decoder_next(&d, &ev); calls++) {
            }
            CHECK(calls == 0 && d.faults == 1); /* one fault, not one per call */
            CHECK(d.discard == whole - sizeof head && tlfseg_decoder_pending(&d) == whole - sizeof head);
            CHECK(tlfseg_decoder_feed(&d, junk, sizeof junk) == sizeof junk); /* eaten by the skip */
            CHECK(d.discard == whole - sizeof head - sizeof junk && d.len == 0);
            CHECK(d.bytes_skipped == sizeof head + sizeof junk);
            /* the line goes quiet: the skip is abandoned, bytes that never came are not counted */
            CHECK(tlfseg_decoder_expire(&d, &ev) == 0 && d.discard == 0);
            CHECK(d.bytes_skipped == sizeof head + sizeof junk && tlfseg_decoder_pending(&d) == 0);
            CHECK(tlfseg_decoder_feed(&d, bye, bye_size) == bye_size);
            CHECK(tlfseg_decoder_next(&d, &ev) == 1 && !ev.is_fault && ev.type == TLFSEG_BYE);
        }
    }
}

/* decode one stream with a max_payload limit, printing each event followed by `sep`, then the counters */
static void decode_and_print(const uint8_t *data, size_t size, unsigned long max_payload, char sep) {
    tlfseg_decoder d;
    tlfseg_event ev;
    char line[64];
    size_t pos = 0;
    tlfseg_decoder_init(&d, dec_buf, TLFSEG_DECODER_BUFFER(max_payload));
    while (pos < size) {
        pos += tlfseg_decoder_feed(&d, data + pos, size - pos);
        while (tlfseg_decoder_next(&d, &ev)) {
            describe(&ev, line, sizeof line);
            printf("%s%c", line, sep);
        }
    }
    printf("stats %lu %lu %llu\n", (unsigned long)d.packets, (unsigned long)d.bad_headers,
           (unsigned long long)d.bytes_skipped);
}

/* --corpus MAX_PAYLOAD FILE: one line per record, "event,event,...,stats P B S" */
static int print_corpus(unsigned long max_payload, const char *file) {
    static uint8_t record[1u << 20];
    uint8_t size_le[4];
    FILE *f = fopen(file, "rb");
    if (!f || TLFSEG_DECODER_BUFFER(max_payload) > sizeof dec_buf) return 2;
    while (fread(size_le, 1, 4, f) == 4) {
        size_t size = (size_t)size_le[0] | (size_t)size_le[1] << 8 | (size_t)size_le[2] << 16 |
                      (size_t)size_le[3] << 24;
        if (size > sizeof record || fread(record, 1, size, f) != size) return 2;
        decode_and_print(record, size, max_payload, ',');
    }
    fclose(f);
    return 0;
}

/* --rle FILE: one line per record (u32 little-endian pixel count, then an RLE mask): "ok CRC" with the CRC-32 of the
 * decoded class ids, or "bad", for comparison with the Python decoder's verdicts */
static int print_rle(const char *file) {
    static uint8_t record[1u << 16], pixels[1u << 20];
    uint8_t size_le[4];
    FILE *f = fopen(file, "rb");
    if (!f) return 2;
    while (fread(size_le, 1, 4, f) == 4) {
        size_t size = (size_t)size_le[0] | (size_t)size_le[1] << 8 | (size_t)size_le[2] << 16 |
                      (size_t)size_le[3] << 24, n;
        if (size < 4 || size > sizeof record || fread(record, 1, size, f) != size) return 2;
        n = (size_t)record[0] | (size_t)record[1] << 8 | (size_t)record[2] << 16 | (size_t)record[3] << 24;
        if (n > sizeof pixels) return 2;
        if (tlfseg_rle_decode(record + 4, size - 4, pixels, n) == 0)
            printf("ok %08lx\n", (unsigned long)tlfseg_crc32(pixels, n));
        else
            printf("bad\n");
    }
    fclose(f);
    return 0;
}

/* --events MAX_PAYLOAD FILE...: print each file's events and stats, for comparison with the Python decoder */
static int print_events(unsigned long max_payload, int n_files, char **files) {
    static uint8_t stream[1u << 20];
    int i;
    for (i = 0; i < n_files; i++) {
        size_t size;
        FILE *f = fopen(files[i], "rb");
        if (!f || TLFSEG_DECODER_BUFFER(max_payload) > sizeof dec_buf) return 2;
        size = fread(stream, 1, sizeof stream, f);
        fclose(f);
        printf("== %s\n", files[i]);
        decode_and_print(stream, size, max_payload, '\n');
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "--events") == 0) return print_events(strtoul(argv[2], NULL, 10), argc - 3, argv + 3);
    if (argc == 4 && strcmp(argv[1], "--corpus") == 0) return print_corpus(strtoul(argv[2], NULL, 10), argv[3]);
    if (argc == 3 && strcmp(argv[1], "--rle") == 0) return print_rle(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTOR_DIR | --events MAX_PAYLOAD FILE... | --corpus MAX_PAYLOAD FILE | --rle FILE\n",
                argv[0]);
        return 2;
    }
    dir = argv[1];
    test_crc();
    test_hello();
    test_config();
    test_frames();
    test_results();
    test_small_messages();
    test_glide();
    test_hint();
    test_stream();
    test_limits_and_expire();
    test_huge_lengths();
    if (failures) {
        fprintf(stderr, "test_vectors: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_vectors: %d checks passed\n", checks);
    return 0;
}
