/* apero's thin layer over libvpx: the Rust side sees a handful of plain
 * functions instead of libvpx's large config structs, whose layout would
 * otherwise have to be restated (and kept right) in Rust. The colour
 * conversions live here too, so they run optimised in a debug build.
 * Our own code; see video/codec/mod.rs for what each call is for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>

struct apv_enc {
    vpx_codec_ctx_t ctx;
    vpx_codec_enc_cfg_t cfg;
    vpx_image_t img;
    int vp9;
    uint8_t *out;
    size_t out_cap;
};

struct apv_dec {
    vpx_codec_ctx_t ctx;
    vpx_image_t *last;
};

static void say(char *err, int len, const char *what, vpx_codec_ctx_t *ctx) {
    if (!err || len <= 0) return;
    snprintf(err, (size_t)len, "%s: %s%s%s", what, ctx ? vpx_codec_error(ctx) : "",
             ctx && vpx_codec_error_detail(ctx) ? " " : "",
             ctx && vpx_codec_error_detail(ctx) ? vpx_codec_error_detail(ctx) : "");
}

/* codec: 8 or 9. screen: tune for screen content. speed: libvpx's cpu-used. */
struct apv_enc *apv_enc_new(int codec, int w, int h, int kbps, int min_q, int max_q, int screen, int speed,
                            int threads, char *err, int errlen) {
    struct apv_enc *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    vpx_codec_iface_t *iface = codec == 9 ? vpx_codec_vp9_cx() : vpx_codec_vp8_cx();
    e->vp9 = codec == 9;
    if (vpx_codec_enc_config_default(iface, &e->cfg, 0)) {
        say(err, errlen, "default config", NULL);
        free(e);
        return NULL;
    }
    e->cfg.g_w = (unsigned)w;
    e->cfg.g_h = (unsigned)h;
    e->cfg.g_timebase.num = 1;
    e->cfg.g_timebase.den = 1000;
    e->cfg.g_threads = (unsigned)threads;
    e->cfg.g_lag_in_frames = 0;
    e->cfg.g_error_resilient = 0;
    e->cfg.g_pass = VPX_RC_ONE_PASS;
    e->cfg.rc_end_usage = VPX_CBR;
    e->cfg.rc_target_bitrate = (unsigned)kbps;
    e->cfg.rc_min_quantizer = (unsigned)min_q;
    e->cfg.rc_max_quantizer = (unsigned)max_q;
    e->cfg.rc_undershoot_pct = 100;
    e->cfg.rc_overshoot_pct = 15;
    e->cfg.rc_buf_initial_sz = 500;
    e->cfg.rc_buf_optimal_sz = 600;
    e->cfg.rc_buf_sz = 1000;
    e->cfg.rc_dropframe_thresh = 0;
    /* Keyframes only when asked: a viewer joining or recovering asks. */
    e->cfg.kf_mode = VPX_KF_DISABLED;
    e->cfg.kf_max_dist = 100000;
    if (vpx_codec_enc_init(&e->ctx, iface, &e->cfg, 0)) {
        say(err, errlen, "encoder init", &e->ctx);
        free(e);
        return NULL;
    }
    vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, speed);
    vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0);
    vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1);
    if (e->vp9) {
        vpx_codec_control(&e->ctx, VP9E_SET_TUNE_CONTENT, screen ? VP9E_CONTENT_SCREEN : VP9E_CONTENT_DEFAULT);
        vpx_codec_control(&e->ctx, VP9E_SET_ROW_MT, 1);
        vpx_codec_control(&e->ctx, VP9E_SET_TILE_COLUMNS, threads > 1 ? 1 : 0);
        vpx_codec_control(&e->ctx, VP9E_SET_AQ_MODE, screen ? 0 : 3);
    } else {
        vpx_codec_control(&e->ctx, VP8E_SET_SCREEN_CONTENT_MODE, screen ? 1 : 0);
        vpx_codec_control(&e->ctx, VP8E_SET_TOKEN_PARTITIONS, threads > 1 ? 1 : 0);
    }
    /* A keyframe may take up to 10 frames' worth: a slide change arrives
     * sharp at once instead of blurry first. */
    vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, 1000);
    if (!vpx_img_alloc(&e->img, VPX_IMG_FMT_I420, (unsigned)w, (unsigned)h, 16)) {
        say(err, errlen, "image", NULL);
        vpx_codec_destroy(&e->ctx);
        free(e);
        return NULL;
    }
    return e;
}

void apv_enc_set_kbps(struct apv_enc *e, int kbps) {
    e->cfg.rc_target_bitrate = (unsigned)kbps;
    vpx_codec_enc_config_set(&e->ctx, &e->cfg);
}

void apv_enc_set_max_q(struct apv_enc *e, int max_q) {
    e->cfg.rc_max_quantizer = (unsigned)max_q;
    vpx_codec_enc_config_set(&e->ctx, &e->cfg);
}

/* BT.601 limited range, integer. */
static inline uint8_t y_of(int r, int g, int b) { return (uint8_t)(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16); }

void apv_bgrx_to_i420(const uint8_t *src, int stride, int w, int h, uint8_t *py, int sy, uint8_t *pu, int su,
                      uint8_t *pv, int sv) {
    for (int y = 0; y < h; y += 2) {
        const uint8_t *r0 = src + (size_t)y * (size_t)stride;
        const uint8_t *r1 = y + 1 < h ? r0 + stride : r0;
        uint8_t *y0 = py + (size_t)y * (size_t)sy;
        uint8_t *y1 = y + 1 < h ? y0 + sy : y0;
        uint8_t *u = pu + (size_t)(y / 2) * (size_t)su;
        uint8_t *v = pv + (size_t)(y / 2) * (size_t)sv;
        for (int x = 0; x < w; x += 2) {
            int x1 = x + 1 < w ? x + 1 : x;
            const uint8_t *a = r0 + x * 4, *b = r0 + x1 * 4, *c = r1 + x * 4, *d = r1 + x1 * 4;
            y0[x] = y_of(a[2], a[1], a[0]);
            y0[x1] = y_of(b[2], b[1], b[0]);
            y1[x] = y_of(c[2], c[1], c[0]);
            y1[x1] = y_of(d[2], d[1], d[0]);
            int r = (a[2] + b[2] + c[2] + d[2] + 2) >> 2;
            int g = (a[1] + b[1] + c[1] + d[1] + 2) >> 2;
            int bl = (a[0] + b[0] + c[0] + d[0] + 2) >> 2;
            u[x / 2] = (uint8_t)(((-38 * r - 74 * g + 112 * bl + 128) >> 8) + 128);
            v[x / 2] = (uint8_t)(((112 * r - 94 * g - 18 * bl + 128) >> 8) + 128);
        }
    }
}

static inline uint8_t clamp8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

void apv_i420_to_rgba(const uint8_t *py, int sy, const uint8_t *pu, int su, const uint8_t *pv, int sv, int w,
                      int h, uint8_t *dst, int stride) {
    for (int y = 0; y < h; y++) {
        const uint8_t *yr = py + (size_t)y * (size_t)sy;
        const uint8_t *ur = pu + (size_t)(y / 2) * (size_t)su;
        const uint8_t *vr = pv + (size_t)(y / 2) * (size_t)sv;
        uint8_t *o = dst + (size_t)y * (size_t)stride;
        for (int x = 0; x < w; x++) {
            int c = 298 * (yr[x] - 16), d = ur[x / 2] - 128, e = vr[x / 2] - 128;
            o[x * 4] = clamp8((c + 409 * e + 128) >> 8);
            o[x * 4 + 1] = clamp8((c - 100 * d - 208 * e + 128) >> 8);
            o[x * 4 + 2] = clamp8((c + 516 * d + 128) >> 8);
            o[x * 4 + 3] = 255;
        }
    }
}

/* Encodes one BGRX picture. Returns the compressed frame (valid until the
 * next call) and its length in *len, 0 when the encoder produced nothing;
 * NULL on error. flags: 1 force a keyframe, 2 droppable (no reference is
 * updated: a viewer who misses it loses nothing after it). */
const uint8_t *apv_enc_encode(struct apv_enc *e, const uint8_t *bgrx, int stride, int64_t pts_ms, int duration_ms,
                              int flags, size_t *len, int *key, char *err, int errlen) {
    *len = 0;
    *key = 0;
    apv_bgrx_to_i420(bgrx, stride, (int)e->cfg.g_w, (int)e->cfg.g_h, e->img.planes[0], e->img.stride[0],
                     e->img.planes[1], e->img.stride[1], e->img.planes[2], e->img.stride[2]);
    vpx_enc_frame_flags_t f = 0;
    if (flags & 1) f |= VPX_EFLAG_FORCE_KF;
    if (flags & 2) f |= VP8_EFLAG_NO_UPD_LAST | VP8_EFLAG_NO_UPD_GF | VP8_EFLAG_NO_UPD_ARF;
    if (vpx_codec_encode(&e->ctx, &e->img, pts_ms, (unsigned long)(duration_ms > 0 ? duration_ms : 1), f,
                         VPX_DL_REALTIME)) {
        say(err, errlen, "encode", &e->ctx);
        return NULL;
    }
    vpx_codec_iter_t iter = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    size_t used = 0;
    while ((pkt = vpx_codec_get_cx_data(&e->ctx, &iter))) {
        if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) continue;
        size_t need = used + pkt->data.frame.sz;
        if (need > e->out_cap) {
            uint8_t *n = realloc(e->out, need);
            if (!n) {
                say(err, errlen, "out of memory", NULL);
                return NULL;
            }
            e->out = n;
            e->out_cap = need;
        }
        memcpy(e->out + used, pkt->data.frame.buf, pkt->data.frame.sz);
        used = need;
        if (pkt->data.frame.flags & VPX_FRAME_IS_KEY) *key = 1;
    }
    *len = used;
    return e->out ? e->out : (const uint8_t *)"";
}

void apv_enc_free(struct apv_enc *e) {
    if (!e) return;
    vpx_codec_destroy(&e->ctx);
    vpx_img_free(&e->img);
    free(e->out);
    free(e);
}

struct apv_dec *apv_dec_new(int codec, int threads, char *err, int errlen) {
    struct apv_dec *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    vpx_codec_dec_cfg_t cfg = {0};
    cfg.threads = (unsigned)threads;
    if (vpx_codec_dec_init(&d->ctx, codec == 9 ? vpx_codec_vp9_dx() : vpx_codec_vp8_dx(), &cfg, 0)) {
        say(err, errlen, "decoder init", &d->ctx);
        free(d);
        return NULL;
    }
    return d;
}

/* Decodes one frame. Returns 1 with a picture ready, 0 without, -1 on a
 * corrupt frame (the caller asks for a keyframe). */
int apv_dec_decode(struct apv_dec *d, const uint8_t *data, size_t len, int *w, int *h, char *err, int errlen) {
    if (vpx_codec_decode(&d->ctx, data, (unsigned)len, NULL, 0)) {
        say(err, errlen, "decode", &d->ctx);
        return -1;
    }
    vpx_codec_iter_t iter = NULL;
    vpx_image_t *img, *got = NULL;
    while ((img = vpx_codec_get_frame(&d->ctx, &iter))) got = img;
    if (!got) return 0;
    if (got->fmt != VPX_IMG_FMT_I420) {
        say(err, errlen, "unexpected picture format", NULL);
        return -1;
    }
    d->last = got;
    *w = (int)got->d_w;
    *h = (int)got->d_h;
    return 1;
}

/* Copies the last decoded picture's planes, packed (strides w and (w+1)/2). */
void apv_dec_i420(struct apv_dec *d, uint8_t *y, uint8_t *u, uint8_t *v) {
    vpx_image_t *i = d->last;
    if (!i) return;
    int w = (int)i->d_w, h = (int)i->d_h, cw = (w + 1) / 2, ch = (h + 1) / 2;
    for (int r = 0; r < h; r++) memcpy(y + (size_t)r * (size_t)w, i->planes[0] + (size_t)r * (size_t)i->stride[0], (size_t)w);
    for (int r = 0; r < ch; r++) {
        memcpy(u + (size_t)r * (size_t)cw, i->planes[1] + (size_t)r * (size_t)i->stride[1], (size_t)cw);
        memcpy(v + (size_t)r * (size_t)cw, i->planes[2] + (size_t)r * (size_t)i->stride[2], (size_t)cw);
    }
}

/* Writes the last decoded picture as RGBA (dst holds stride*h bytes). */
void apv_dec_rgba(struct apv_dec *d, uint8_t *dst, int stride) {
    vpx_image_t *i = d->last;
    if (!i) return;
    apv_i420_to_rgba(i->planes[0], i->stride[0], i->planes[1], i->stride[1], i->planes[2], i->stride[2],
                     (int)i->d_w, (int)i->d_h, dst, stride);
}

void apv_dec_free(struct apv_dec *d) {
    if (!d) return;
    vpx_codec_destroy(&d->ctx);
    free(d);
}
