/* tlfseg firmware bridge protocol v1: C99 reference implementation (see tlfseg_proto.h, docs/protocol.md). */
#include "tlfseg_proto.h"

#include <string.h>

static const uint8_t MAGIC[4] = {'T', 'L', 'F', 'B'};

/* ---- little-endian helpers --------------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v) {
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void putf(uint8_t *p, float f) {
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put32(p, v);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16); }

static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32); }

static float getf(const uint8_t *p) {
    uint32_t v = get32(p);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

/* ---- CRC-32 ------------------------------------------------------------------------------------ */

static const uint32_t CRC_NIBBLE[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

uint32_t tlfseg_crc32_update(uint32_t crc, const uint8_t *data, size_t len) {
    size_t i;
    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ CRC_NIBBLE[crc & 15u];
        crc = (crc >> 4) ^ CRC_NIBBLE[crc & 15u];
    }
    return ~crc;
}

uint32_t tlfseg_crc32(const uint8_t *data, size_t len) { return tlfseg_crc32_update(0, data, len); }

/* ---- framing ----------------------------------------------------------------------------------- */

void tlfseg_pack_header(uint8_t out[TLFSEG_HEADER_SIZE], uint8_t type, uint16_t flags, uint32_t seq,
                        uint32_t length) {
    memcpy(out, MAGIC, 4);
    out[4] = (uint8_t)TLFSEG_VERSION;
    out[5] = type;
    put16(out + 6, flags);
    put32(out + 8, seq);
    put32(out + 12, length);
    put32(out + 16, tlfseg_crc32(out, 16));
}

void tlfseg_pack_trailer(uint8_t out[TLFSEG_TRAILER_SIZE], uint32_t payload_crc) { put32(out, payload_crc); }

size_t tlfseg_pack(uint8_t *out, size_t cap, uint8_t type, uint16_t flags, uint32_t seq, const uint8_t *payload,
                   uint32_t length) {
    if (cap < TLFSEG_OVERHEAD || cap - TLFSEG_OVERHEAD < length) return 0;
    tlfseg_pack_header(out, type, flags, seq, length);
    if (length) memmove(out + TLFSEG_HEADER_SIZE, payload, length);
    tlfseg_pack_trailer(out + TLFSEG_HEADER_SIZE + length, tlfseg_crc32(payload, length));
    return TLFSEG_OVERHEAD + length;
}

/* ---- payload writer / reader ------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t cap, pos;
    int ok;
} writer;

static uint8_t *w_take(writer *w, size_t n) {
    uint8_t *at;
    if (!w->ok || w->cap - w->pos < n) {
        w->ok = 0;
        return NULL;
    }
    at = w->p + w->pos;
    w->pos += n;
    return at;
}

static void w_u8(writer *w, uint8_t v) {
    uint8_t *at = w_take(w, 1);
    if (at) at[0] = v;
}

static void w_u16(writer *w, uint16_t v) {
    uint8_t *at = w_take(w, 2);
    if (at) put16(at, v);
}

static void w_u32(writer *w, uint32_t v) {
    uint8_t *at = w_take(w, 4);
    if (at) put32(at, v);
}

static void w_u64(writer *w, uint64_t v) {
    uint8_t *at = w_take(w, 8);
    if (at) put64(at, v);
}

static void w_f32(writer *w, float v) {
    uint8_t *at = w_take(w, 4);
    if (at) putf(at, v);
}

static void w_bytes(writer *w, const void *src, size_t n) {
    uint8_t *at = w_take(w, n);
    if (at && n) memcpy(at, src, n);
}

static void w_str(writer *w, tlfseg_str s) {
    w_u16(w, s.len);
    w_bytes(w, s.ptr, s.len);
}

static size_t w_done(const writer *w) { return w->ok ? w->pos : 0; }

typedef struct {
    const uint8_t *p;
    uint32_t len, pos;
    int ok;
} reader;

static const uint8_t *r_take(reader *r, uint32_t n) {
    const uint8_t *at;
    if (!r->ok || r->len - r->pos < n) {
        r->ok = 0;
        return NULL;
    }
    at = r->p + r->pos;
    r->pos += n;
    return at;
}

static uint8_t r_u8(reader *r) {
    const uint8_t *at = r_take(r, 1);
    return at ? at[0] : 0;
}

static uint16_t r_u16(reader *r) {
    const uint8_t *at = r_take(r, 2);
    return at ? get16(at) : 0;
}

static uint32_t r_u32(reader *r) {
    const uint8_t *at = r_take(r, 4);
    return at ? get32(at) : 0;
}

static uint64_t r_u64(reader *r) {
    const uint8_t *at = r_take(r, 8);
    return at ? get64(at) : 0;
}

static float r_f32(reader *r) {
    const uint8_t *at = r_take(r, 4);
    return at ? getf(at) : 0.0f;
}

static tlfseg_str r_str(reader *r) {
    tlfseg_str s;
    s.len = r_u16(r);
    s.ptr = (const char *)r_take(r, s.len);
    if (!s.ptr) s.len = 0;
    return s;
}

/* 0 when every byte was read and nothing was missing; a payload with extra bytes is malformed too */
static int r_end(const reader *r, int valid) {
    return (r->ok && r->pos == r->len && valid) ? 0 : TLFSEG_E_MALFORMED;
}

/* a versioned payload: layout `known` holds exactly its fields, a later one at least them; layout 0 is malformed */
static int r_end_layout(const reader *r, uint16_t version, uint16_t known) {
    if (r->ok && version > known) return 0; /* the fields known here; the appended ones are left to their reader */
    return r_end(r, version == known);
}

/* ---- payloads ----------------------------------------------------------------------------------- */

size_t tlfseg_hello_pack(uint8_t *out, size_t cap, const tlfseg_hello *m) {
    writer w = {0, 0, 0, 1};
    uint8_t i;
    w.p = out;
    w.cap = cap;
    if (m->n_classes > TLFSEG_MAX_CLASSES) return 0;
    w_u8(&w, m->protocol_version);
    w_u8(&w, m->role);
    w_u16(&w, m->max_width);
    w_u16(&w, m->max_height);
    w_u32(&w, m->max_payload);
    w_u16(&w, m->input_width);
    w_u16(&w, m->input_height);
    w_u8(&w, m->pixel_formats);
    w_u8(&w, m->mask_encodings);
    w_str(&w, m->software);
    w_str(&w, m->model);
    w_u8(&w, m->n_classes);
    for (i = 0; i < m->n_classes; i++) w_str(&w, m->classes[i]);
    return w_done(&w);
}

int tlfseg_hello_parse(const uint8_t *p, uint32_t len, tlfseg_hello *m) {
    reader r = {0, 0, 0, 1};
    uint8_t i;
    r.p = p;
    r.len = len;
    memset(m, 0, sizeof *m);
    m->protocol_version = r_u8(&r);
    m->role = r_u8(&r);
    m->max_width = r_u16(&r);
    m->max_height = r_u16(&r);
    m->max_payload = r_u32(&r);
    m->input_width = r_u16(&r);
    m->input_height = r_u16(&r);
    m->pixel_formats = r_u8(&r);
    m->mask_encodings = r_u8(&r);
    m->software = r_str(&r);
    m->model = r_str(&r);
    m->n_classes = r_u8(&r);
    if (m->n_classes > TLFSEG_MAX_CLASSES) return TLFSEG_E_MALFORMED;
    for (i = 0; i < m->n_classes; i++) m->classes[i] = r_str(&r);
    return r_end(&r, m->role <= TLFSEG_ROLE_RUNTIME);
}

size_t tlfseg_config_pack(uint8_t *out, size_t cap, const tlfseg_config *m) {
    writer w = {0, 0, 0, 1};
    w.p = out;
    w.cap = cap;
    w_u16(&w, m->roi_x);
    w_u16(&w, m->roi_y);
    w_u16(&w, m->roi_w);
    w_u16(&w, m->roi_h);
    w_f32(&w, m->mm_per_px);
    w_f32(&w, m->depth_mm);
    w_f32(&w, m->min_coverage);
    w_f32(&w, m->min_confidence);
    return w_done(&w);
}

int tlfseg_config_parse(const uint8_t *p, uint32_t len, tlfseg_config *m) {
    reader r = {0, 0, 0, 1};
    r.p = p;
    r.len = len;
    m->roi_x = r_u16(&r);
    m->roi_y = r_u16(&r);
    m->roi_w = r_u16(&r);
    m->roi_h = r_u16(&r);
    m->mm_per_px = r_f32(&r);
    m->depth_mm = r_f32(&r);
    m->min_coverage = r_f32(&r);
    m->min_confidence = r_f32(&r);
    return r_end(&r, 1);
}

void tlfseg_frame_head_pack(uint8_t out[TLFSEG_FRAME_HEAD_SIZE], const tlfseg_frame *m) {
    put32(out, m->frame_id);
    put64(out + 4, m->timestamp_us);
    out[12] = m->format;
    out[13] = m->mask;
    put16(out + 14, m->width);
    put16(out + 16, m->height);
    put32(out + 18, m->stride);
}

size_t tlfseg_frame_pack(uint8_t *out, size_t cap, const tlfseg_frame *m) {
    if (cap < TLFSEG_FRAME_HEAD_SIZE || cap - TLFSEG_FRAME_HEAD_SIZE < m->data_len) return 0;
    tlfseg_frame_head_pack(out, m);
    if (m->data_len) memcpy(out + TLFSEG_FRAME_HEAD_SIZE, m->data, m->data_len);
    return TLFSEG_FRAME_HEAD_SIZE + (size_t)m->data_len;
}

int tlfseg_frame_parse(const uint8_t *p, uint32_t len, tlfseg_frame *m) {
    reader r = {0, 0, 0, 1};
    r.p = p;
    r.len = len;
    m->frame_id = r_u32(&r);
    m->timestamp_us = r_u64(&r);
    m->format = r_u8(&r);
    m->mask = r_u8(&r);
    m->width = r_u16(&r);
    m->height = r_u16(&r);
    m->stride = r_u32(&r);
    m->data_len = r.ok ? len - r.pos : 0;
    m->data = r_take(&r, m->data_len);
    return r_end(&r, m->format >= TLFSEG_GREY8 && m->format <= TLFSEG_PNG && m->mask <= TLFSEG_MASK_PNG);
}

int tlfseg_result_parse(const uint8_t *p, uint32_t len, tlfseg_result *m) {
    reader r = {0, 0, 0, 1};
    r.p = p;
    r.len = len;
    m->frame_id = r_u32(&r);
    m->timestamp_us = r_u64(&r);
    m->quality = r_u32(&r);
    m->roi_x = r_u16(&r);
    m->roi_y = r_u16(&r);
    m->roi_w = r_u16(&r);
    m->roi_h = r_u16(&r);
    m->thickness_mm = r_f32(&r);
    m->thickness_px = r_f32(&r);
    m->thickness_iqr_px = r_f32(&r);
    m->coverage = r_f32(&r);
    m->confidence = r_f32(&r);
    m->echo_fascia = r_f32(&r);
    m->echo_above = r_f32(&r);
    m->echo_below = r_f32(&r);
    m->latency.queue_us = r_u32(&r);
    m->latency.decode_us = r_u32(&r);
    m->latency.preprocess_us = r_u32(&r);
    m->latency.inference_us = r_u32(&r);
    m->latency.postprocess_us = r_u32(&r);
    m->latency.measure_us = r_u32(&r);
    m->latency.total_us = r_u32(&r);
    m->n_skipped = r_u16(&r);
    if (m->n_skipped > TLFSEG_MAX_SKIPPED) return TLFSEG_E_MALFORMED;
    m->skipped = r_take(&r, 4u * m->n_skipped);
    m->mask_encoding = r_u8(&r);
    m->mask_width = r_u16(&r);
    m->mask_height = r_u16(&r);
    m->mask_len = r_u32(&r);
    m->mask = r_take(&r, m->mask_len);
    return r_end(&r, m->mask_encoding <= TLFSEG_MASK_PNG);
}

uint32_t tlfseg_result_skipped(const tlfseg_result *r, uint16_t i) { return get32(r->skipped + 4u * i); }

size_t tlfseg_error_pack(uint8_t *out, size_t cap, const tlfseg_error *m) {
    writer w = {0, 0, 0, 1};
    w.p = out;
    w.cap = cap;
    w_u16(&w, m->code);
    w_u32(&w, m->ref_seq);
    w_u32(&w, m->frame_id);
    w_str(&w, m->text);
    return w_done(&w);
}

int tlfseg_error_parse(const uint8_t *p, uint32_t len, tlfseg_error *m) {
    reader r = {0, 0, 0, 1};
    r.p = p;
    r.len = len;
    m->code = r_u16(&r);
    m->ref_seq = r_u32(&r);
    m->frame_id = r_u32(&r);
    m->text = r_str(&r);
    return r_end(&r, m->code >= TLFSEG_E_BAD_CRC && m->code <= TLFSEG_E_UNEXPECTED);
}

size_t tlfseg_heartbeat_pack(uint8_t *out, size_t cap, const tlfseg_heartbeat *m) {
    writer w = {0, 0, 0, 1};
    w.p = out;
    w.cap = cap;
    w_u64(&w, m->timestamp_us);
    w_u32(&w, m->frames_received);
    w_u32(&w, m->results_sent);
    w_u32(&w, m->frames_skipped);
    w_u32(&w, m->errors);
    return w_done(&w);
}

int tlfseg_heartbeat_parse(const uint8_t *p, uint32_t len, tlfseg_heartbeat *m) {
    reader r = {0, 0, 0, 1};
    r.p = p;
    r.len = len;
    m->timestamp_us = r_u64(&r);
    m->frames_received = r_u32(&r);
    m->results_sent = r_u32(&r);
    m->frames_skipped = r_u32(&r);
    m->errors = r_u32(&r);
    return r_end(&r, 1);
}

size_t tlfseg_bye_pack(uint8_t *out, size_t cap, const tlfseg_bye *m) {
    writer w = {0, 0, 0, 1};
    w.p = out;
    w.cap = cap;
    w_u16(&w, m->reason);
    return w_done(&w);
}

int tlfseg_bye_parse(const uint8_t *p, uint32_t len, tlfseg_bye *m) {
    reader r = {0, 0, 0, 1};
    r.p = p;
    r.len = len;
    m->reason = r_u16(&r);
    return r_end(&r, m->reason <= TLFSEG_BYE_IDLE);
}

/* the ten float pairs of a GLIDE, in wire order */
static float *glide_figure(tlfseg_glide *m, unsigned i) {
    float *figures[10];
    figures[0] = m->relative_px;
    figures[1] = m->relative_mm;
    figures[2] = m->strain_pct;
    figures[3] = m->distance_px;
    figures[4] = m->shear_px;
    figures[5] = m->shear_mm;
    figures[6] = m->shear_strain_pct;
    figures[7] = m->cycle_shear_px;
    figures[8] = m->cycle_shear_mm;
    figures[9] = m->cycle_strain_pct;
    return figures[i];
}

size_t tlfseg_glide_pack(uint8_t *out, size_t cap, const tlfseg_glide *m) {
    writer w = {0, 0, 0, 1};
    tlfseg_glide copy = *m;
    unsigned i;
    w.p = out;
    w.cap = cap;
    w_u32(&w, m->frame_id);
    w_u16(&w, m->version);
    w_u16(&w, m->flags);
    w_u32(&w, m->pairs);
    w_u32(&w, m->flagged);
    w_u32(&w, m->cycles);
    for (i = 0; i < 10; i++) {
        w_f32(&w, glide_figure(&copy, i)[0]);
        w_f32(&w, glide_figure(&copy, i)[1]);
    }
    return w_done(&w);
}

int tlfseg_glide_parse(const uint8_t *p, uint32_t len, tlfseg_glide *m) {
    reader r = {0, 0, 0, 1};
    unsigned i;
    r.p = p;
    r.len = len;
    m->frame_id = r_u32(&r);
    m->version = r_u16(&r);
    m->flags = r_u16(&r);
    m->pairs = r_u32(&r);
    m->flagged = r_u32(&r);
    m->cycles = r_u32(&r);
    for (i = 0; i < 10; i++) {
        glide_figure(m, i)[0] = r_f32(&r);
        glide_figure(m, i)[1] = r_f32(&r);
    }
    return r_end_layout(&r, m->version, TLFSEG_GLIDE_VERSION);
}

float tlfseg_no_value(void) {
    static const uint8_t quiet_nan[4] = {0x00, 0x00, 0xC0, 0x7F};
    return getf(quiet_nan);
}

size_t tlfseg_hint_pack(uint8_t *out, size_t cap, const tlfseg_hint *m) {
    writer w = {0, 0, 0, 1};
    w.p = out;
    w.cap = cap;
    w_u16(&w, m->version);
    w_f32(&w, m->range_lo_mm);
    w_f32(&w, m->range_hi_mm);
    w_f32(&w, m->hint_mm);
    return w_done(&w);
}

int tlfseg_hint_parse(const uint8_t *p, uint32_t len, tlfseg_hint *m) {
    reader r = {0, 0, 0, 1};
    r.p = p;
    r.len = len;
    m->version = r_u16(&r);
    m->range_lo_mm = r_f32(&r);
    m->range_hi_mm = r_f32(&r);
    m->hint_mm = r_f32(&r);
    return r_end_layout(&r, m->version, TLFSEG_HINT_VERSION);
}

int tlfseg_rle_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t n_pixels) {
    size_t i = 0, covered = 0;
    while (i < len) {
        uint8_t value = src[i++];
        uint64_t run = 0; /* up to 35 bits: a 5th byte's bits above 32 make a run too long, as in Python */
        unsigned shift = 0;
        for (;;) {
            uint8_t byte;
            if (i >= len || shift > 28) return -1;
            byte = src[i++];
            run |= (uint64_t)(byte & 0x7Fu) << shift;
            shift += 7;
            if (byte < 0x80u) break;
        }
        if (run > n_pixels - covered) return -1;
        memset(dst + covered, value, (size_t)run);
        covered += run;
    }
    return covered == n_pixels ? 0 : -1;
}

/* ---- CRC-32 arithmetic (for resync) ----------------------------------------------------------------- */
/* A CRC-32 is a polynomial over GF(2) (reflected: bit 31 is x^0). crc(A || B) = crc(A) * x^(8|B|) + crc(B) mod the
 * CRC polynomial, so the CRC of any stretch of the buffer follows from two running CRCs and one multiplication. */

/* x^(8 * 2^k) mod the CRC polynomial, k = 0..31 */
static const uint32_t X8_POW2[32] = {
    0x00800000u, 0x00008000u, 0xEDB88320u, 0xB1E6B092u, 0xA06A2517u, 0xED627DAEu, 0x88D14467u, 0xD7BBFE6Au,
    0xEC447F11u, 0x8E7EA170u, 0x6427800Eu, 0x4D47BAE0u, 0x09FE548Fu, 0x83852D0Fu, 0x30362F1Au, 0x7B5A9CC3u,
    0x31FEC169u, 0x9FEC022Au, 0x6C8DEDC4u, 0x15D6874Du, 0x5FDE7A4Eu, 0xBAD90E37u, 0x2E4E5EEFu, 0x4EABA214u,
    0xA8A472C0u, 0x429A969Eu, 0x148D302Au, 0xC40BA6D0u, 0xC4E22C3Cu, 0x40000000u, 0x20000000u, 0x08000000u};

static uint32_t gf_mul(uint32_t a, uint32_t b) {
    uint32_t p = 0;
    int i;
    for (i = 0; i < 32 && a; i++) {
        if (a & 0x80000000u) p ^= b;
        a <<= 1;
        b = (b & 1u) ? (b >> 1) ^ 0xEDB88320u : b >> 1;
    }
    return p;
}

/* crc * x^(8n): the CRC of A, moved past n more bytes */
static uint32_t crc_shift(uint32_t crc, uint32_t n) {
    int k;
    for (k = 0; n && crc; k++, n >>= 1)
        if (n & 1u) crc = gf_mul(X8_POW2[k], crc);
    return crc;
}

/* ---- streaming decoder -------------------------------------------------------------------------- */

typedef struct {
    uint8_t version, type;
    uint16_t flags;
    uint32_t seq, length;
} header;

static int parse_header(const uint8_t *p, size_t avail, header *h) {
    if (avail < TLFSEG_HEADER_SIZE || memcmp(p, MAGIC, 4) != 0) return 0;
    if (get32(p + 16) != tlfseg_crc32(p, 16)) return 0;
    h->version = p[4];
    h->type = p[5];
    h->flags = get16(p + 6);
    h->seq = get32(p + 8);
    h->length = get32(p + 12);
    return 1;
}

static size_t find_magic(const uint8_t *p, size_t from, size_t end) {
    size_t i;
    for (i = from; i + 4 <= end; i++)
        if (p[i] == MAGIC[0] && memcmp(p + i, MAGIC, 4) == 0) return i;
    return (size_t)-1;
}

static const uint8_t *held(const tlfseg_decoder *d, uint64_t pos) { return d->buf + d->head + (size_t)(pos - d->at); }

/* Drop n held bytes from the front; bytes of the span pass into the cursor's CRC first (each byte once). */
static void drop(tlfseg_decoder *d, size_t n, int skipped) {
    uint64_t to = d->at + n;
    if (d->span_on && to >= d->span_end) {
        d->span_on = 0;
    } else if (d->span_on && to > d->cur_pos) {
        d->cur_crc = tlfseg_crc32_update(d->cur_crc, held(d, d->cur_pos), (size_t)(to - d->cur_pos));
        d->cur_pos = to;
    }
    d->head += n;
    d->len -= n;
    d->at = to;
    if (d->len == 0) d->head = 0;
    if (skipped) d->bytes_skipped += n;
}

static void settle(tlfseg_decoder *d) {
    if (d->consume) {
        drop(d, d->consume, 0);
        d->consume = 0;
    }
}

static int fault(tlfseg_decoder *d, tlfseg_event *ev, uint16_t code, uint32_t seq) {
    memset(ev, 0, sizeof *ev);
    ev->is_fault = 1;
    ev->code = code;
    ev->seq = seq;
    d->faults++;
    return 1;
}

int tlfseg_decoder_init(tlfseg_decoder *d, uint8_t *buf, size_t size) {
    /* the most message bytes c with c + 4 * (c / STEP + 2) <= size (c = q * STEP + r: q * (STEP + 4) + r <= size - 8) */
    size_t m, q, r;
    if (size < TLFSEG_DECODER_BUFFER(0)) return -1;
    m = size - 8u;
    q = m / (TLFSEG_MARK_STEP + 4u);
    r = m - q * (TLFSEG_MARK_STEP + 4u);
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->cap = q * TLFSEG_MARK_STEP + (r < TLFSEG_MARK_STEP ? r : TLFSEG_MARK_STEP - 1u);
    d->max_payload = (d->cap - TLFSEG_OVERHEAD) > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)(d->cap - TLFSEG_OVERHEAD);
    return 0;
}

uint64_t tlfseg_decoder_pending(const tlfseg_decoder *d) { return (uint64_t)(d->len - d->consume) + d->discard; }

size_t tlfseg_decoder_feed(tlfseg_decoder *d, const uint8_t *data, size_t len) {
    size_t taken = 0, n;
    settle(d);
    if (d->discard) {
        n = (uint64_t)len < d->discard ? len : (size_t)d->discard;
        d->discard -= n;
        d->bytes_skipped += n;
        taken = n;
    }
    n = len - taken;
    if (n > d->cap - d->head - d->len && d->head) { /* make room: move what is held to the front */
        memmove(d->buf, d->buf + d->head, d->len);
        d->head = 0;
    }
    if (n > d->cap - d->head - d->len) n = d->cap - d->head - d->len;
    if (n) memcpy(d->buf + d->head + d->len, data + taken, n);
    d->len += n;
    return taken + n;
}

/* Mark k: the span's CRC up to span_base + k * TLFSEG_MARK_STEP, kept after the message bytes (k <= cap / STEP + 1) */
static uint8_t *mark_at(const tlfseg_decoder *d, uint64_t k) { return d->buf + d->cap + 4u * (size_t)k; }

/* Extend the span's CRC over held bytes up to position `to`, storing a mark at every multiple of TLFSEG_MARK_STEP. */
static void span_extend(tlfseg_decoder *d, uint64_t to) {
    while (d->span_end < to) {
        uint64_t k = (d->span_end - d->span_base) / TLFSEG_MARK_STEP + 1u, mark = d->span_base + k * TLFSEG_MARK_STEP;
        uint64_t stop = mark < to ? mark : to;
        d->span_crc = tlfseg_crc32_update(d->span_crc, held(d, d->span_end), (size_t)(stop - d->span_end));
        d->span_end = stop;
        if (stop == mark) put32(mark_at(d, k), d->span_crc);
    }
}

/* Does the payload CRC of the whole message at the front (payload length n) verify? Linear overall: a message
 * starting beyond the last failed span is checked directly (and becomes the span if it fails); one inside it is
 * checked from the span's running CRCs, touching at most about 2 * TLFSEG_MARK_STEP + 20 bytes. */
static int payload_ok(tlfseg_decoder *d, uint32_t n) {
    uint64_t a = d->at + TLFSEG_HEADER_SIZE, b = a + n, k, mark, from;
    uint32_t want = get32(held(d, b)), crc_a, crc_b, from_crc;
    if (!d->span_on || a >= d->span_end) {
        d->span_on = 1;
        d->span_base = d->span_end = d->cur_pos = a;
        d->span_crc = d->cur_crc = 0;
        span_extend(d, b);
        if (d->span_crc == want) {
            d->span_on = 0;
            return 1;
        }
        return 0;
    }
    /* the cursor sits at max(span_base, at) <= a */
    crc_a = tlfseg_crc32_update(d->cur_crc, held(d, d->cur_pos), (size_t)(a - d->cur_pos));
    if (b >= d->span_end) {
        span_extend(d, b);
        crc_b = d->span_crc;
    } else {
        k = (b - d->span_base) / TLFSEG_MARK_STEP;
        mark = d->span_base + k * TLFSEG_MARK_STEP;
        from = d->cur_pos;
        from_crc = d->cur_crc;
        if (k > 0 && mark >= d->cur_pos) {
            from = mark;
            from_crc = get32(mark_at(d, k));
        }
        crc_b = tlfseg_crc32_update(from_crc, held(d, from), (size_t)(b - from));
    }
    return (crc_b ^ crc_shift(crc_a, n)) == want;
}

/* a header whose payload and CRC were lost, the next message's header right behind it: that header's first 16 bytes
 * and its CRC (the same CRC-32) read as a 16-byte payload that verifies; no message sends such a payload */
static int lost_payload(const tlfseg_decoder *d, uint32_t length) {
    return length == TLFSEG_HEADER_SIZE - 4 && memcmp(d->buf + d->head + TLFSEG_HEADER_SIZE, MAGIC, 4) == 0;
}

/* a verified header lies wholly within buf[1..end) (so the answer never depends on later bytes) */
static int header_inside(const tlfseg_decoder *d, size_t end) {
    header h;
    const uint8_t *p = d->buf + d->head;
    size_t stop = end - (TLFSEG_HEADER_SIZE - 4); /* a magic ending by `stop` has its header before `end` */
    size_t i = find_magic(p, 1, stop);
    while (i != (size_t)-1) {
        if (parse_header(p + i, TLFSEG_HEADER_SIZE, &h)) return 1;
        i = find_magic(p, i + 1, stop);
    }
    return 0;
}

int tlfseg_decoder_next(tlfseg_decoder *d, tlfseg_event *ev) {
    settle(d);
    for (;;) {
        header h;
        size_t start = find_magic(d->buf + d->head, 0, d->len), total, n;
        uint64_t whole;
        int ok;
        if (start == (size_t)-1) {
            if (d->len > 3) drop(d, d->len - 3, 1); /* keep a possible partial magic */
            return 0;
        }
        drop(d, start, 1);
        if (d->len < TLFSEG_HEADER_SIZE) return 0;
        if (!parse_header(d->buf + d->head, d->len, &h)) {
            d->bad_headers++;
            drop(d, 1, 1);
            continue;
        }
        if (h.version != TLFSEG_VERSION || h.length > d->max_payload) {
            whole = (uint64_t)TLFSEG_OVERHEAD + h.length; /* 64-bit: cannot wrap, whatever size_t is */
            n = whole < d->len ? (size_t)whole : d->len;
            drop(d, n, 1);
            d->discard = whole - n;
            return fault(d, ev, h.version != TLFSEG_VERSION ? TLFSEG_E_BAD_VERSION : TLFSEG_E_TOO_LARGE, h.seq);
        }
        total = TLFSEG_OVERHEAD + (size_t)h.length; /* length <= max_payload <= cap - TLFSEG_OVERHEAD: no wrap */
        if (d->len < total) return 0;
        ok = payload_ok(d, h.length);
        if (!ok || lost_payload(d, h.length)) {
            int truncated = ok || header_inside(d, total); /* ok here: a lost payload */
            drop(d, 1, 1);
            return fault(d, ev, truncated ? TLFSEG_E_TRUNCATED : TLFSEG_E_BAD_CRC, h.seq);
        }
        memset(ev, 0, sizeof *ev);
        ev->type = h.type;
        ev->flags = h.flags;
        ev->seq = h.seq;
        ev->payload = d->buf + d->head + TLFSEG_HEADER_SIZE;
        ev->length = h.length;
        d->consume = total; /* dropped on the next call, so the payload stays valid until then */
        d->packets++;
        return 1;
    }
}

int tlfseg_decoder_expire(tlfseg_decoder *d, tlfseg_event *ev) {
    header h;
    settle(d);
    if (d->discard) { /* abandon the skip: the bytes that never came are not counted */
        d->discard = 0;
        return 0;
    }
    if (!parse_header(d->buf + d->head, d->len, &h)) return 0;
    drop(d, 1, 1);
    return fault(d, ev, TLFSEG_E_TRUNCATED, h.seq);
}
