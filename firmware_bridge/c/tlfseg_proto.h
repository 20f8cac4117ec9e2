/*
 * tlfseg firmware bridge protocol, version 1: C99 reference for scanner firmware.
 *
 * Dependency free (stdint.h, stddef.h, string.h only), no malloc, no global state, reentrant.
 * The wire format is specified in docs/protocol.md; this file and tlfseg_proto.c implement it:
 *   - CRC-32 (IEEE 802.3, as zlib.crc32), bitwise with a 16-entry nibble table;
 *   - message framing (20-byte header, payload, CRC-32 trailer), whole or in pieces (zero copy);
 *   - a streaming decoder over a caller-provided buffer that resynchronises after garbage and
 *     lost bytes and never buffers a message larger than its limit; its work is linear in the bytes
 *     received (bounded per byte, even for crafted streams of nested headers), every length sum is done
 *     so that it cannot wrap on a 32-bit size_t, and a skip of up to 4 GiB is counted in 64 bits;
 *   - pack/parse for every payload; parsed strings, skip lists and masks point into the payload;
 *   - the gliding extension: GLIDE messages, asked for with TLFSEG_HELLO_F_GLIDE in the HELLO's header flags;
 *   - the hint extension: HINT messages (the fascia's expected depth range, a hint depth), asked for with
 *     TLFSEG_HELLO_F_HINT;
 *   - the RLE mask decoder.
 * Floats are IEEE-754 binary32, little-endian on the wire (all current MCUs with an FPU or soft float).
 */
#ifndef TLFSEG_PROTO_H
#define TLFSEG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TLFSEG_VERSION 1u
#define TLFSEG_HEADER_SIZE 20u
#define TLFSEG_TRAILER_SIZE 4u
#define TLFSEG_OVERHEAD (TLFSEG_HEADER_SIZE + TLFSEG_TRAILER_SIZE)
#define TLFSEG_NO_ID 0xFFFFFFFFu
#define TLFSEG_MAX_SKIPPED 1024u
#define TLFSEG_MAX_CLASSES 16u
#define TLFSEG_FRAME_HEAD_SIZE 22u /* FRAME payload fields before the pixel data */

/* message types */
enum tlfseg_type {
    TLFSEG_HELLO = 1,
    TLFSEG_CONFIG = 2,
    TLFSEG_FRAME = 3,
    TLFSEG_RESULT = 4,
    TLFSEG_ERROR = 5,
    TLFSEG_HEARTBEAT = 6,
    TLFSEG_BYE = 7,
    TLFSEG_GLIDE = 8, /* the gliding extension: only to a scanner whose HELLO set TLFSEG_HELLO_F_GLIDE */
    TLFSEG_HINT = 9   /* the hint extension: to a runtime that granted TLFSEG_HELLO_F_HINT, which echoes it */
};

/* Extension bits in a HELLO's header flags (send 0 in every other message). A version-1 runtime ignores them and
 * answers 0: the scanner then gets no GLIDE and must send no HINT. The runtime's HELLO sets the bits it grants. */
#define TLFSEG_HELLO_F_TOKEN (1u << 0) /* reserved (docs/protocol.md, section 5) */
#define TLFSEG_HELLO_F_GLIDE (1u << 1) /* a GLIDE message follows each frame's RESULT */
#define TLFSEG_HELLO_F_HINT (1u << 2)  /* the scanner may send HINT (the operator's depth prior) */
#define TLFSEG_GLIDE_VERSION 1u        /* GLIDE payload layout; a later one only appends fields */
#define TLFSEG_GLIDE_SIZE 100u         /* bytes of a version-1 GLIDE payload */
#define TLFSEG_HINT_VERSION 1u         /* HINT payload layout; a later one only appends fields */
#define TLFSEG_HINT_SIZE 14u           /* bytes of a version-1 HINT payload */

/* ERROR codes (also the fault codes the decoder reports) */
enum tlfseg_error_code {
    TLFSEG_E_BAD_CRC = 1,
    TLFSEG_E_BAD_VERSION = 2,
    TLFSEG_E_TOO_LARGE = 3,
    TLFSEG_E_UNKNOWN_TYPE = 4,
    TLFSEG_E_MALFORMED = 5,
    TLFSEG_E_TRUNCATED = 6,
    TLFSEG_E_BAD_FRAME = 7,
    TLFSEG_E_BAD_CONFIG = 8,
    TLFSEG_E_BUSY = 9,
    TLFSEG_E_INTERNAL = 10,
    TLFSEG_E_UNEXPECTED = 11
};

enum tlfseg_pixel_format { TLFSEG_GREY8 = 1, TLFSEG_BGR8 = 2, TLFSEG_JPEG = 3, TLFSEG_PNG = 4 };
enum tlfseg_mask_encoding { TLFSEG_MASK_NONE = 0, TLFSEG_MASK_RLE = 1, TLFSEG_MASK_PNG = 2 };
enum tlfseg_role { TLFSEG_ROLE_SCANNER = 0, TLFSEG_ROLE_RUNTIME = 1 };
enum tlfseg_bye_reason { TLFSEG_BYE_DONE = 0, TLFSEG_BYE_SHUTDOWN = 1, TLFSEG_BYE_IDLE = 2 };

/* RESULT quality flags: a RESULT without bits 0-7 set is a good measurement. The measurement flag past them
 * (UNFAMILIAR, bit 10) always comes with OTHER: firmware that tests only bits 0-7 reads its RESULT as not good too */
#define TLFSEG_Q_NO_FASCIA (1u << 0)      /* no fascia found in the ROI: no thickness */
#define TLFSEG_Q_LOW_COVERAGE (1u << 1)   /* fascia in fewer ROI columns than the coverage threshold */
#define TLFSEG_Q_LOW_CONFIDENCE (1u << 2) /* mean fascia probability under the confidence threshold */
#define TLFSEG_Q_FRAGMENTED (1u << 3)     /* the fascia broken into several bands in too many columns */
#define TLFSEG_Q_AMBIGUOUS (1u << 4)      /* a second band-shaped structure competes: which is the fascia is in doubt */
#define TLFSEG_Q_JUMP (1u << 5)           /* stream: the band far from where it was tracked (another structure?) */
#define TLFSEG_Q_OUTSIDE_RANGE (1u << 6)  /* no band candidate inside the operator's expected depth range */
#define TLFSEG_Q_OTHER (1u << 7)          /* another measurement flag (named in the runtime's log) */
#define TLFSEG_Q_MEASUREMENT_FLAGS (0xFFu | TLFSEG_Q_UNFAMILIAR)
#define TLFSEG_Q_ROI_DETECTED (1u << 8)   /* the ROI is automatic (no fixed ROI): detected, then tracked */
#define TLFSEG_Q_NO_SCALE (1u << 9)       /* no calibration: thickness in pixels only */
#define TLFSEG_Q_UNFAMILIAR (1u << 10)    /* image statistics far outside the training images': segmentation in doubt */
#define TLFSEG_Q_PARTIAL (1u << 11)       /* good: measured on the band's winning piece, another piece left out */

/* GLIDE flags: why the frame pair is left out of the gliding totals; 0: a good pair, counted */
#define TLFSEG_G_NO_PREVIOUS (1u << 0)          /* first frame, or the first after a break */
#define TLFSEG_G_ROI_CHANGED (1u << 1)          /* the ROI moved */
#define TLFSEG_G_SEGMENTATION_FLAGGED (1u << 2) /* either frame's measurement flagged: the band in doubt */
#define TLFSEG_G_FEW_COLUMNS (1u << 3)          /* too few columns hold the band and both tissue strips */
#define TLFSEG_G_LOW_TEXTURE (1u << 4)          /* a strip without texture to track */
#define TLFSEG_G_LOW_CORRELATION (1u << 5)      /* the motion does not explain a strip's pixels */
#define TLFSEG_G_SATURATED (1u << 6)            /* a strip largely at full white: its speckle clipped away */
#define TLFSEG_G_OTHER (1u << 15)               /* another reason (the runtime's log names it) */

/* ---- CRC-32 ------------------------------------------------------------------------------------ */

/* Running CRC-32: start with crc = 0; tlfseg_crc32_update(tlfseg_crc32_update(0, a, n), b, m) is the
 * CRC of a followed by b (the same convention as zlib.crc32). */
uint32_t tlfseg_crc32_update(uint32_t crc, const uint8_t *data, size_t len);
uint32_t tlfseg_crc32(const uint8_t *data, size_t len);

/* ---- framing ----------------------------------------------------------------------------------- */

/* The 20-byte header (header CRC included) of a message with a `length`-byte payload. */
void tlfseg_pack_header(uint8_t out[TLFSEG_HEADER_SIZE], uint8_t type, uint16_t flags, uint32_t seq,
                        uint32_t length);
/* The 4-byte trailer: the payload's CRC-32 (e.g. accumulated with tlfseg_crc32_update while sending). */
void tlfseg_pack_trailer(uint8_t out[TLFSEG_TRAILER_SIZE], uint32_t payload_crc);
/* A whole message into `out`; returns its size, or 0 when `cap` is too small. */
size_t tlfseg_pack(uint8_t *out, size_t cap, uint8_t type, uint16_t flags, uint32_t seq, const uint8_t *payload,
                   uint32_t length);

/* ---- payloads ----------------------------------------------------------------------------------- */

typedef struct {
    const char *ptr; /* UTF-8, not NUL-terminated; points into the payload it was parsed from */
    uint16_t len;
} tlfseg_str;

typedef struct {
    uint8_t protocol_version;
    uint8_t role;           /* enum tlfseg_role */
    uint16_t max_width;     /* largest frame accepted (0 from a scanner) */
    uint16_t max_height;
    uint32_t max_payload;   /* largest payload accepted */
    uint16_t input_width;   /* the model's input (0 from a scanner) */
    uint16_t input_height;
    uint8_t pixel_formats;  /* bit (1 << format) per accepted enum tlfseg_pixel_format */
    uint8_t mask_encodings; /* bit (1 << encoding) per enum tlfseg_mask_encoding */
    tlfseg_str software;
    tlfseg_str model;
    uint8_t n_classes;
    tlfseg_str classes[TLFSEG_MAX_CLASSES];
} tlfseg_hello;

typedef struct {
    uint16_t roi_x, roi_y, roi_w, roi_h; /* roi_w or roi_h 0: the runtime detects the B-mode area per frame */
    float mm_per_px;                     /* pixel spacing; 0: not given */
    float depth_mm;                      /* or the depth setting, spanning the ROI rows; 0: not given */
    float min_coverage;                  /* 0..1; 0: the runtime's default */
    float min_confidence;                /* 0..1; 0: the runtime's default */
} tlfseg_config;

typedef struct {
    uint32_t frame_id;
    uint64_t timestamp_us; /* the scanner's clock, echoed in the RESULT */
    uint8_t format;        /* enum tlfseg_pixel_format */
    uint8_t mask;          /* enum tlfseg_mask_encoding: the mask wanted in the RESULT */
    uint16_t width, height;
    uint32_t stride;       /* bytes between rows (GREY8/BGR8); 0 for JPEG/PNG */
    const uint8_t *data;   /* pixels: stride * height bytes, or the JPEG/PNG file */
    uint32_t data_len;
} tlfseg_frame;

typedef struct {
    uint32_t queue_us, decode_us, preprocess_us, inference_us, postprocess_us, measure_us, total_us;
} tlfseg_latency;

typedef struct {
    uint32_t frame_id; /* TLFSEG_NO_ID: the message only reports skipped frames */
    uint64_t timestamp_us;
    uint32_t quality;  /* TLFSEG_Q_* bits */
    uint16_t roi_x, roi_y, roi_w, roi_h; /* the area segmented and measured */
    /* NaN (x != x) where there is no value */
    float thickness_mm;     /* median thickness perpendicular to the band (NaN: no fascia or no scale) */
    float thickness_px;     /* the same in pixels */
    float thickness_iqr_px; /* its spread across the columns */
    float coverage;         /* fraction of ROI columns with fascia */
    float confidence;       /* mean model probability of the fascia pixels */
    float echo_fascia;      /* echogenicity: mean grey (0..255) inside the fascia */
    float echo_above;       /* mean grey above it */
    float echo_below;       /* mean grey below it */
    tlfseg_latency latency;
    uint16_t n_skipped;
    const uint8_t *skipped; /* n_skipped little-endian u32 ids: use tlfseg_result_skipped() */
    uint8_t mask_encoding;
    uint16_t mask_width, mask_height;
    uint32_t mask_len;
    const uint8_t *mask;
} tlfseg_result;

typedef struct {
    uint16_t code;     /* enum tlfseg_error_code */
    uint32_t ref_seq;  /* the offending message's sequence number, or TLFSEG_NO_ID */
    uint32_t frame_id; /* the FRAME it answers, or TLFSEG_NO_ID */
    tlfseg_str text;
} tlfseg_error;

typedef struct {
    uint64_t timestamp_us; /* the requester's clock; echoed in the answer */
    uint32_t frames_received, results_sent, frames_skipped, errors;
} tlfseg_heartbeat;

typedef struct {
    uint16_t reason; /* enum tlfseg_bye_reason */
} tlfseg_bye;

/* GLIDE: each [2] is {fascia/below, above/fascia}, the lower layer's lateral displacement minus the upper's;
 * NaN: no value (the pair left out, no calibration for the mm fields, no cycle completed yet). */
typedef struct {
    uint32_t frame_id;   /* the frame whose RESULT came just before */
    uint16_t version;    /* payload layout, >= 1 (a later one appends fields, ignored here) */
    uint16_t flags;      /* TLFSEG_G_* bits; 0: a good pair */
    uint32_t pairs;      /* good frame pairs in the totals */
    uint32_t flagged;    /* frame pairs left out */
    uint32_t cycles;     /* movement cycles completed */
    float relative_px[2]; /* this frame pair's relative displacement */
    float relative_mm[2];
    float strain_pct[2];  /* relative displacement / distance between the layers' centres, % */
    float distance_px[2];
    float shear_px[2];    /* cumulative over the good pairs */
    float shear_mm[2];
    float shear_strain_pct[2];
    float cycle_shear_px[2]; /* the last completed cycle: its strokes' mean shear */
    float cycle_shear_mm[2];
    float cycle_strain_pct[2];
} tlfseg_glide;

/* HINT: the operator's depth prior, mm below the ROI's top row; NaN (tlfseg_no_value()): none. It replaces the
 * session's prior; the runtime echoes the one it applied, or answers ERROR BAD_CONFIG (no calibration, a value out
 * of range) and keeps the previous one. */
typedef struct {
    uint16_t version;   /* payload layout, >= 1 (a later one appends fields, ignored here) */
    float range_lo_mm;  /* the fascia's expected depth range: 0 <= lo < hi, or both NaN (no range) */
    float range_hi_mm;
    float hint_mm;      /* a one-time hint: keep the band candidate nearest this depth (>= 0); NaN: none */
} tlfseg_hint;

/* NaN, the wire's "no value", for firmware without <math.h> */
float tlfseg_no_value(void);

/* Encoders write a payload into out[0..cap) and return its length, or 0 when cap is too small. */
size_t tlfseg_hello_pack(uint8_t *out, size_t cap, const tlfseg_hello *m);
size_t tlfseg_config_pack(uint8_t *out, size_t cap, const tlfseg_config *m);
size_t tlfseg_frame_pack(uint8_t *out, size_t cap, const tlfseg_frame *m);
/* Only the 22 bytes before the pixels: send them, then the pixels straight from the frame buffer. */
void tlfseg_frame_head_pack(uint8_t out[TLFSEG_FRAME_HEAD_SIZE], const tlfseg_frame *m);
size_t tlfseg_error_pack(uint8_t *out, size_t cap, const tlfseg_error *m);
size_t tlfseg_heartbeat_pack(uint8_t *out, size_t cap, const tlfseg_heartbeat *m);
size_t tlfseg_bye_pack(uint8_t *out, size_t cap, const tlfseg_bye *m);
size_t tlfseg_glide_pack(uint8_t *out, size_t cap, const tlfseg_glide *m);
size_t tlfseg_hint_pack(uint8_t *out, size_t cap, const tlfseg_hint *m);

/* Parsers return 0, or TLFSEG_E_MALFORMED when the payload does not parse as the type says
 * (too short, bytes left over, an enumerated value outside its table, too many classes or skipped ids). */
int tlfseg_hello_parse(const uint8_t *p, uint32_t len, tlfseg_hello *m);
int tlfseg_config_parse(const uint8_t *p, uint32_t len, tlfseg_config *m);
int tlfseg_frame_parse(const uint8_t *p, uint32_t len, tlfseg_frame *m);
int tlfseg_result_parse(const uint8_t *p, uint32_t len, tlfseg_result *m);
int tlfseg_error_parse(const uint8_t *p, uint32_t len, tlfseg_error *m);
int tlfseg_heartbeat_parse(const uint8_t *p, uint32_t len, tlfseg_heartbeat *m);
int tlfseg_bye_parse(const uint8_t *p, uint32_t len, tlfseg_bye *m);
/* version 1: exactly TLFSEG_GLIDE_SIZE bytes; a later version: at least that many; version 0: malformed */
int tlfseg_glide_parse(const uint8_t *p, uint32_t len, tlfseg_glide *m);
/* version 1: exactly TLFSEG_HINT_SIZE bytes; a later version: at least that many; version 0: malformed */
int tlfseg_hint_parse(const uint8_t *p, uint32_t len, tlfseg_hint *m);

uint32_t tlfseg_result_skipped(const tlfseg_result *r, uint16_t i);

/* RLE mask -> n_pixels class ids in dst (row-major). 0, or -1 when the runs do not cover n_pixels exactly. */
int tlfseg_rle_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t n_pixels);

/* ---- streaming decoder -------------------------------------------------------------------------- */

/* Resynchronisation cost: after a payload CRC mismatch the decoder checks every later header inside the failed
 * message from running CRCs ("marks") kept every TLFSEG_MARK_STEP bytes of it, so each check costs at most about
 * 2 * TLFSEG_MARK_STEP bytes of CRC (plus a few hundred operations), whatever the announced lengths and whatever the
 * buffer's size: the work per byte received is bounded. The marks (4 bytes per TLFSEG_MARK_STEP bytes of message)
 * live at the end of the caller's buffer: size it with TLFSEG_DECODER_BUFFER. */
#define TLFSEG_MARK_STEP 1024u
/* the buffer tlfseg_decoder_init needs for payloads up to max_payload bytes: a whole message and its resync marks */
#define TLFSEG_DECODER_BUFFER(max_payload) \
    (TLFSEG_OVERHEAD + (max_payload) + 4u * ((TLFSEG_OVERHEAD + (max_payload)) / TLFSEG_MARK_STEP + 2u))

typedef struct {
    uint8_t *buf;           /* caller's buffer: TLFSEG_DECODER_BUFFER(max payload) bytes */
    size_t cap;             /* bytes of buf that hold messages (the resync marks follow them) */
    size_t head;            /* index in buf of the first byte held */
    size_t len;             /* bytes held: buf[head .. head + len) */
    size_t consume;         /* bytes of the last event to drop on the next call */
    uint32_t max_payload;
    uint64_t discard;       /* bytes of a skipped message still to drop as they arrive (64-bit: never truncated) */
    uint32_t packets;       /* messages delivered */
    uint32_t bad_headers;   /* magic found, header checksum wrong */
    uint32_t faults;        /* faults reported */
    uint64_t bytes_skipped; /* bytes received and not part of a delivered message */
    /* private resync state: running CRC-32 over a failed message's payload ("span"), marks every TLFSEG_MARK_STEP
     * bytes (at buf + cap), and the CRC up to the first byte held (cursor); positions count the bytes that entered
     * buf */
    uint64_t at;            /* position of buf[head] */
    int span_on;
    uint64_t span_base, span_end, cur_pos;
    uint32_t span_crc, cur_crc;
} tlfseg_decoder;

typedef struct {
    int is_fault;    /* 0: a message whose checksums verified; 1: a fault */
    uint16_t code;   /* fault: enum tlfseg_error_code */
    uint8_t type;    /* message: its type (possibly unknown: answer TLFSEG_E_UNKNOWN_TYPE) */
    uint16_t flags;
    uint32_t seq;    /* the message's (or the faulty message's) sequence number */
    const uint8_t *payload; /* message: valid until the next call into the decoder */
    uint32_t length;
} tlfseg_event;

/* buf/size: working memory, TLFSEG_DECODER_BUFFER(max payload) bytes; messages with larger payloads are skipped as
 * TOO_LARGE (d->max_payload: the largest that fits). Returns 0, or -1 when size < TLFSEG_DECODER_BUFFER(0). */
int tlfseg_decoder_init(tlfseg_decoder *d, uint8_t *buf, size_t size);
/* Take bytes from data; returns how many were taken (all of them unless the buffer is full: then call
 * tlfseg_decoder_next until it returns 0 and feed the rest). */
size_t tlfseg_decoder_feed(tlfseg_decoder *d, const uint8_t *data, size_t len);
/* 1 and *ev filled when an event is ready, 0 when more bytes are needed. */
int tlfseg_decoder_next(tlfseg_decoder *d, tlfseg_event *ev);
/* The line went quiet mid-message: 1 and a TRUNCATED fault in *ev if a message was cut short (its bytes
 * after the first are then rescanned: keep calling tlfseg_decoder_next), else 0. A skip still in progress is
 * abandoned (bytes that never arrived are not counted in bytes_skipped). */
int tlfseg_decoder_expire(tlfseg_decoder *d, tlfseg_event *ev);
/* Bytes held for a message not complete yet, plus bytes of a skipped message still to come (64-bit: a header
 * can announce up to 4 GiB + 23 bytes). */
uint64_t tlfseg_decoder_pending(const tlfseg_decoder *d);

#ifdef __cplusplus
}
#endif

#endif /* TLFSEG_PROTO_H */
