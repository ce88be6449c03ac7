/* Decode link, network and transport headers of a batch of frames, in C.
 *
 * A line-by-line twin of decode_batch in frames.py (its fallback and the test oracle):
 * bytes are read from the batch buffer at the same positions, clamped to the buffer
 * like numpy's gather, so both give the same columns for every input, damaged or not.
 * Mirror tunnels (GRE, ERSPAN I/II/III, VXLAN, Geneve, IP-in-IP) are removed up to
 * MAX_ENCAP layers deep: the columns describe the innermost frame. An ICMP error takes the
 * flow of the packet it quotes (icmp_errors.py has the numpy twin of that part).
 */
#include "../native/buffers.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define ETH_PPPOE 0x8864
#define V4_TAG ((uint64_t)1 << 40)
#define MAX_VLAN 8        /* VLAN tags read; a ninth is a decode error (ERR_VLAN) */
#define MAX_ENCAP 4       /* tunnel layers removed; a fifth is a decode error (ERR_TUNNEL) */
#define INNER_ETHERNET -1 /* Encap.inner: the inner frame starts with an Ethernet header */
#define UDP_VXLAN 1       /* udp_ports bits */
#define UDP_GENEVE 2

/* decode errors (frames.DECODE_ERROR_LAYERS) and tunnel kinds (frames.TUNNEL_KINDS) */
enum { ERR_NONE, ERR_VLAN, ERR_TUNNEL };
enum { T_NONE, T_GRE, T_ERSPAN1, T_ERSPAN2, T_ERSPAN3, T_VXLAN, T_GENEVE, T_IPIP, T_IP6IP };

typedef struct {
    const unsigned char *p;
    int64_t len;
} Bytes;

static inline unsigned
byte_at(Bytes b, int64_t i)
{
    if (b.len <= 0)
        return 0;
    if (i < 0)
        i = 0;
    else if (i >= b.len)
        i = b.len - 1;
    return b.p[i];
}

static inline int64_t
be16(Bytes b, int64_t i)
{
    return ((int64_t)byte_at(b, i) << 8) | byte_at(b, i + 1);
}

static inline uint64_t
be64(Bytes b, int64_t i)
{
    uint64_t x = 0;
    for (int k = 0; k < 8; k++)
        x = (x << 8) | byte_at(b, i + k);
    return x;
}

static inline int64_t
ethertype_from_version(Bytes b, int64_t at)
{
    unsigned v = byte_at(b, at) >> 4;
    return v == 4 ? ETH_IPV4 : (v == 6 ? ETH_IPV6 : 0);
}

static inline uint64_t
fold(uint64_t hi, uint64_t lo)
{
    uint64_t x = (hi * 0x9E3779B97F4A7C15ULL) ^ lo;
    return (x ^ (x >> 29)) | ((uint64_t)1 << 63);
}

static inline int
is_ipv6_extension(int64_t proto)
{
    return proto == 0 || proto == 43 || proto == 44 || proto == 51 || proto == 60;
}

static inline int
is_vlan(int64_t et)
{
    return et == 0x8100 || et == 0x88A8 || et == 0x9100;
}

static inline int64_t
ppp_ethertype(int64_t proto)
{
    return proto == 0x21 ? ETH_IPV4 : (proto == 0x57 ? ETH_IPV6 : 0);
}

/* Ethernet II at `off`: up to MAX_VLAN tags (802.1Q, QinQ), then a PPPoE session header
 * or an MPLS stack of up to four labels. */
static void
ethernet(Bytes b, int64_t off, int64_t cap, int64_t *l3, int64_t *etype, int *ok, int *err)
{
    int64_t et = be16(b, off + 12), at = off + 14;
    for (int k = 0; k < MAX_VLAN && is_vlan(et); k++) {
        et = be16(b, at + 2);
        at += 4;
    }
    if (is_vlan(et))
        *err = ERR_VLAN;
    if (et == ETH_PPPOE) {
        et = ppp_ethertype(be16(b, at + 6));
        at += 8;
    } else if (et == 0x8847 || et == 0x8848) {
        for (int k = 0; k < 4; k++) {
            int bottom = byte_at(b, at + 2) & 1;
            at += 4;
            if (bottom)
                break;
        }
        et = ethertype_from_version(b, at);
    }
    *l3 = at, *etype = et, *ok = cap >= 14;
}

/* Offset of the network header, its EtherType and whether the link header fits. */
static void
link_layer(Bytes b, int linktype, int64_t off, int64_t cap, int64_t *l3, int64_t *etype,
           int *ok, int *err)
{
    switch (linktype) {
    case 1:
        ethernet(b, off, cap, l3, etype, ok, err);
        return;
    case 113: /* Linux cooked v1 */
        *l3 = off + 16, *etype = be16(b, off + 14), *ok = cap >= 16;
        return;
    case 276: /* Linux cooked v2 */
        *l3 = off + 20, *etype = be16(b, off), *ok = cap >= 20;
        return;
    case 101: case 228: case 229: case 12: case 14: /* raw IP */
        *l3 = off, *etype = ethertype_from_version(b, off), *ok = cap >= 1;
        return;
    case 0: case 108: /* BSD loopback */
        *l3 = off + 4, *etype = ethertype_from_version(b, off + 4), *ok = cap >= 5;
        return;
    case 9: { /* PPP, with or without ff 03 */
        int ac = byte_at(b, off) == 0xFF && byte_at(b, off + 1) == 0x03;
        int64_t proto = ac ? be16(b, off + 2) : be16(b, off);
        *l3 = ac ? off + 4 : off + 2;
        *etype = ppp_ethertype(proto);
        *ok = cap >= 4;
        return;
    }
    default:
        *l3 = off, *etype = 0, *ok = 0;
    }
}

/* One IP header and what follows it. */
typedef struct {
    int ip, fragment;
    unsigned version;
    int64_t ip_end, l4, proto;
    uint64_t src, dst;
} IpHeader;

static IpHeader
ip_layer(Bytes b, int64_t l3, int64_t etype, int ok, int64_t fend)
{
    IpHeader h;
    unsigned b0 = byte_at(b, l3);
    h.version = b0 >> 4;
    int v4 = ok && etype == ETH_IPV4 && h.version == 4 && l3 + 20 <= fend;
    int v6 = ok && etype == ETH_IPV6 && h.version == 6 && l3 + 40 <= fend;
    int64_t ihl = (int64_t)(b0 & 0x0F) * 4;
    v4 = v4 && ihl >= 20;
    h.fragment = v4 && (be16(b, l3 + 6) & 0x1FFF) != 0;
    h.ip_end = l3 + be16(b, l3 + 2), h.l4 = l3 + ihl, h.proto = byte_at(b, l3 + 9);
    h.src = 0, h.dst = 0;
    if (v4) {
        h.src = (((uint64_t)be16(b, l3 + 12) << 16) | (uint64_t)be16(b, l3 + 14)) | V4_TAG;
        h.dst = (((uint64_t)be16(b, l3 + 16) << 16) | (uint64_t)be16(b, l3 + 18)) | V4_TAG;
    }
    if (v6) {
        h.ip_end = l3 + 40 + be16(b, l3 + 4);
        h.l4 = l3 + 40;
        h.proto = byte_at(b, l3 + 6);
        h.src = fold(be64(b, l3 + 8), be64(b, l3 + 16));
        h.dst = fold(be64(b, l3 + 24), be64(b, l3 + 32));
        for (int k = 0; k < 6 && is_ipv6_extension(h.proto); k++) {
            int64_t length;
            if (h.proto == 44) {
                h.fragment |= (be16(b, h.l4 + 2) & 0xFFF8) != 0;
                length = 8;
            } else if (h.proto == 51) {
                length = ((int64_t)byte_at(b, h.l4 + 1) + 2) * 4;
            } else {
                length = ((int64_t)byte_at(b, h.l4 + 1) + 1) * 8;
            }
            h.proto = byte_at(b, h.l4);
            h.l4 += length;
        }
    }
    h.ip = v4 || v6;
    return h;
}

/* The tunnel an IP packet carries, if any: its kind (0 for none), session id (-1 for
 * none), where the inner frame starts and what it starts with (INNER_ETHERNET, or the
 * EtherType of the inner packet: IPv4 and IPv6 are decoded, anything else is a frame
 * without a flow). Mirrors tunnels.encapsulation. */
typedef struct {
    int kind;
    int64_t id, start, inner;
} Encap;

static inline int64_t
be24(Bytes b, int64_t i)
{
    return ((int64_t)byte_at(b, i) << 16) | be16(b, i + 1);
}

static inline int64_t
be32(Bytes b, int64_t i)
{
    return (be16(b, i) << 16) | be16(b, i + 2);
}

static Encap
encapsulation(Bytes b, const IpHeader *h, int64_t fend, const unsigned char *udp_ports)
{
    Encap e = {0, -1, 0, 0};
    int64_t l4 = h->l4;
    if (!h->ip || h->fragment)
        return e;
    if (h->proto == 4 || h->proto == 41) {
        e.kind = h->proto == 4 ? T_IPIP : T_IP6IP;
        e.start = l4, e.inner = h->proto == 4 ? ETH_IPV4 : ETH_IPV6;
        return e;
    }
    if (h->proto == 47 && l4 + 4 <= fend) {
        int64_t flags = be16(b, l4), ptype = be16(b, l4 + 2);
        if ((flags & 0x4007) != 0) /* routing present, or not version 0 (PPTP) */
            return e;
        int64_t at = l4 + 4 + (flags & 0x8000 ? 4 : 0);
        if (flags & 0x2000) {
            e.id = be32(b, at);
            at += 4;
        }
        at += flags & 0x1000 ? 4 : 0;
        if (ptype == 0x6558) {
            e.kind = T_GRE, e.start = at, e.inner = INNER_ETHERNET;
        } else if (ptype == 0x88BE && !(flags & 0x1000)) {
            e.kind = T_ERSPAN1, e.start = at, e.inner = INNER_ETHERNET;
        } else if (ptype == 0x88BE) {
            e.kind = T_ERSPAN2, e.id = be16(b, at + 2) & 0x3FF;
            e.start = at + 8, e.inner = INNER_ETHERNET;
        } else if (ptype == 0x22EB) {
            int64_t ft = (byte_at(b, at + 10) >> 2) & 0x1F;
            e.kind = T_ERSPAN3, e.id = be16(b, at + 2) & 0x3FF;
            e.start = at + 12 + (byte_at(b, at + 11) & 1 ? 8 : 0);
            e.inner = ft == 0 ? INNER_ETHERNET : ft == 2 ? ethertype_from_version(b, e.start) : 0;
        } else { /* IPv4, IPv6, or a payload that is not IP (no flow, counted as a frame) */
            e.kind = T_GRE, e.start = at, e.inner = ptype;
        }
        return e;
    }
    if (h->proto == 17 && l4 + 8 <= fend) {
        unsigned use = udp_ports[be16(b, l4 + 2)];
        unsigned first = byte_at(b, l4 + 8);
        if ((use & UDP_VXLAN) && (first & 0x08)) {
            e.kind = T_VXLAN, e.id = be24(b, l4 + 12);
            e.start = l4 + 16, e.inner = INNER_ETHERNET;
        } else if ((use & UDP_GENEVE) && (first >> 6) == 0) {
            int64_t ptype = be16(b, l4 + 10);
            e.kind = T_GENEVE, e.id = be24(b, l4 + 12);
            e.start = l4 + 16 + (int64_t)(first & 0x3F) * 4;
            e.inner = ptype == 0x6558 ? INNER_ETHERNET : ptype;
        }
    }
    return e;
}

/* An ICMP error (v4 types 3, 11, 12; v6 types 1-4) quotes the header of the packet it
 * answers. Q_OK: the frame belongs to that packet's flow, seen from its destination (the
 * addresses and ports swapped); Q_UNREADABLE: the quoted addresses are cut short or not
 * IP of the same version, so the frame has no flow (a truncated IP header). Mirrors
 * icmp_errors.py. */
enum { Q_NONE, Q_OK, Q_UNREADABLE };

typedef struct {
    int state, fragment;
    int64_t at, proto, sport, dport;
    uint64_t src, dst;
} Quote;

static inline int
is_icmp_error(Bytes b, const IpHeader *h, int64_t fend)
{
    if (!h->ip || h->fragment || h->l4 >= fend)
        return 0;
    unsigned t = byte_at(b, h->l4);
    if (h->version == 4)
        return h->proto == 1 && (t == 3 || t == 11 || t == 12);
    return h->proto == 58 && t >= 1 && t <= 4;
}

static Quote
icmp_quote(Bytes b, const IpHeader *h, int64_t fend)
{
    Quote q = {Q_NONE, 0, -1, 0, 0, 0, 0, 0};
    if (!is_icmp_error(b, h, fend))
        return q;
    int v4 = h->version == 4;
    int64_t at = h->l4 + 8;
    IpHeader in = ip_layer(b, at, v4 ? ETH_IPV4 : ETH_IPV6, 1, fend);
    if (!in.ip) {
        q.state = Q_UNREADABLE;
        return q;
    }
    /* extension headers or options cut short: the fixed header's protocol, no ports */
    int64_t proto = in.l4 > fend ? byte_at(b, at + (v4 ? 9 : 6)) : in.proto;
    int ports = !in.fragment && (proto == 6 || proto == 17) && in.l4 + 4 <= fend;
    q.state = Q_OK, q.fragment = in.fragment, q.at = at, q.proto = proto;
    q.src = in.dst, q.dst = in.src;
    q.sport = ports ? be16(b, in.l4 + 2) : 0;
    q.dport = ports ? be16(b, in.l4) : 0;
    return q;
}

enum {
    O_IP, O_VERSION, O_L3, O_ETHERTYPE, O_PROTO, O_SRC_KEY, O_DST_KEY, O_SPORT, O_DPORT,
    O_TCP_FLAGS, O_PAYLOAD_OFF, O_PAYLOAD_LEN, O_WIRELEN, O_FRAGMENT, O_TRUNCATED_IP,
    O_L2, O_TUNNEL, O_TUNNEL_ID, O_OUTER_L3, O_OUTER_SRC, O_OUTER_DST, O_ERROR, O_ICMP_ERROR,
    O_QUOTE_L3, O_COUNT
};
static const Py_ssize_t out_sizes[O_COUNT] = {1, 1, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 1, 1,
                                              8, 1, 8, 8, 8, 8, 1, 1, 8};
static const Py_ssize_t in_sizes[3] = {8, 8, 8};

PyDoc_STRVAR(decode_doc,
"decode(data, linktype, (offset, caplen, wirelen), udp_ports, out) -> None\n\n"
"Fill the DecodedBatch columns in ``out`` (a tuple in field order: ip, version, l3,\n"
"ethertype, proto, src_key, dst_key, sport, dport, tcp_flags, payload_off,\n"
"payload_len, wirelen, fragment, truncated_ip, l2, tunnel, tunnel_id, outer_l3,\n"
"outer_src_key, outer_dst_key, error, icmp_error, quote_l3) for every frame, decapsulating\n"
"mirror tunnels. ``udp_ports`` has 65536 bytes:\n"
"bit 1 marks a VXLAN port, bit 2 a Geneve port.");

static PyObject *
decode(PyObject *self, PyObject *args)
{
    Py_buffer data, ports;
    int linktype;
    PyObject *in, *out, *ports_obj;
    if (!PyArg_ParseTuple(args, "y*iOOO", &data, &linktype, &in, &ports_obj, &out))
        return NULL;
    if (borrow(ports_obj, &ports, 1, 65536, 0, "decode udp_ports") != 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    Py_buffer iv[3], ov[O_COUNT];
    if (borrow_all(in, iv, in_sizes, 3, -1, 0, "decode inputs") != 0) {
        PyBuffer_Release(&ports);
        PyBuffer_Release(&data);
        return NULL;
    }
    Py_ssize_t n = iv[0].len / 8;
    if (iv[1].len / 8 != n || iv[2].len / 8 != n) {
        PyErr_SetString(PyExc_ValueError, "decode: offset, caplen, wirelen differ in length");
        goto fail_in;
    }
    if (borrow_all(out, ov, out_sizes, O_COUNT, n, 1, "decode out") != 0)
        goto fail_in;

    Bytes b = {data.buf, data.len};
    const unsigned char *udp_ports = ports.buf;
    const int64_t *offset = iv[0].buf, *caplen = iv[1].buf, *wire_in = iv[2].buf;
    unsigned char *ip_o = ov[O_IP].buf, *version_o = ov[O_VERSION].buf;
    unsigned char *frag_o = ov[O_FRAGMENT].buf, *trunc_o = ov[O_TRUNCATED_IP].buf;
    int64_t *l3_o = ov[O_L3].buf, *etype_o = ov[O_ETHERTYPE].buf, *proto_o = ov[O_PROTO].buf;
    uint64_t *src_o = ov[O_SRC_KEY].buf, *dst_o = ov[O_DST_KEY].buf;
    int64_t *sport_o = ov[O_SPORT].buf, *dport_o = ov[O_DPORT].buf;
    int64_t *flags_o = ov[O_TCP_FLAGS].buf, *poff_o = ov[O_PAYLOAD_OFF].buf;
    int64_t *plen_o = ov[O_PAYLOAD_LEN].buf, *wire_o = ov[O_WIRELEN].buf;
    int64_t *l2_o = ov[O_L2].buf, *tid_o = ov[O_TUNNEL_ID].buf, *outer_o = ov[O_OUTER_L3].buf;
    unsigned char *tunnel_o = ov[O_TUNNEL].buf, *error_o = ov[O_ERROR].buf;
    uint64_t *osrc_o = ov[O_OUTER_SRC].buf, *odst_o = ov[O_OUTER_DST].buf;
    unsigned char *icmp_o = ov[O_ICMP_ERROR].buf;
    int64_t *quote_o = ov[O_QUOTE_L3].buf;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t off = offset[i], cap = caplen[i], fend = off + cap, l3, etype;
        int ok, err = 0, tunnel = 0;
        int64_t l2 = linktype == 1 ? off : -1, tunnel_id = -1, outer_l3 = -1, start = off;
        uint64_t outer_src = 0, outer_dst = 0;
        link_layer(b, linktype, off, cap, &l3, &etype, &ok, &err);
        IpHeader h = ip_layer(b, l3, etype, ok, fend);
        for (int depth = 1;; depth++) {
            Encap e = encapsulation(b, &h, fend, udp_ports);
            if (!e.kind || e.start > fend) /* no tunnel, or its header is cut short */
                break;
            if (depth > MAX_ENCAP) {
                err = ERR_TUNNEL;
                h.ip = 0;
                break;
            }
            if (depth == 1) {
                tunnel = e.kind, tunnel_id = e.id, outer_l3 = l3;
                outer_src = h.src, outer_dst = h.dst;
            }
            start = e.start;
            if (e.inner == INNER_ETHERNET) {
                l2 = start;
                ethernet(b, start, fend - start, &l3, &etype, &ok, &err);
            } else {
                l2 = -1, l3 = start, etype = e.inner, ok = fend - start >= 1;
            }
            h = ip_layer(b, l3, etype, ok, fend);
        }
        int ip = h.ip, fragment = h.fragment;
        int64_t l4 = h.l4, proto = h.proto, ip_end = h.ip_end;
        int has_ports = ip && !h.fragment && (proto == 6 || proto == 17) && l4 + 4 <= fend;
        int tcp = has_ports && proto == 6 && l4 + 14 <= fend;
        int64_t payload_off = has_ports ? l4 + (tcp ? (int64_t)(byte_at(b, l4 + 12) >> 4) * 4 : 8)
                                        : l4;
        int64_t data_end = ip_end > l3 ? ip_end : fend;
        if (data_end > fend)
            data_end = fend;
        int64_t payload_len = ip && data_end > payload_off ? data_end - payload_off : 0;
        int64_t wl = wire_in[i];
        if (wl <= 0)
            wl = ip && ip_end - off > cap ? ip_end - off : cap;
        wl -= start - off;
        uint64_t src = h.src, dst = h.dst;
        int64_t sport = has_ports ? be16(b, l4) : 0, dport = has_ports ? be16(b, l4 + 2) : 0;
        Quote q = icmp_quote(b, &h, fend);
        if (q.state == Q_OK) {
            src = q.src, dst = q.dst, sport = q.sport, dport = q.dport;
            proto = q.proto, fragment = q.fragment, payload_len = 0;
        } else if (q.state == Q_UNREADABLE) {
            ip = 0, payload_len = 0;
        }

        ip_o[i] = (unsigned char)ip;
        version_o[i] = (unsigned char)h.version;
        l3_o[i] = l3;
        etype_o[i] = etype;
        proto_o[i] = proto;
        src_o[i] = src;
        dst_o[i] = dst;
        sport_o[i] = sport;
        dport_o[i] = dport;
        flags_o[i] = tcp ? byte_at(b, l4 + 13) : 0;
        poff_o[i] = payload_off;
        plen_o[i] = payload_len;
        wire_o[i] = wl;
        frag_o[i] = (unsigned char)fragment;
        trunc_o[i] = (unsigned char)(ok && (etype == ETH_IPV4 || etype == ETH_IPV6) && !ip
                                     && err != ERR_TUNNEL);
        l2_o[i] = l2;
        tunnel_o[i] = (unsigned char)tunnel;
        tid_o[i] = tunnel_id;
        outer_o[i] = outer_l3;
        osrc_o[i] = outer_src;
        odst_o[i] = outer_dst;
        error_o[i] = (unsigned char)err;
        icmp_o[i] = (unsigned char)(q.state == Q_OK);
        quote_o[i] = q.at;
    }
    Py_END_ALLOW_THREADS

    release_all(ov, O_COUNT);
    release_all(iv, 3);
    PyBuffer_Release(&ports);
    PyBuffer_Release(&data);
    Py_RETURN_NONE;

fail_in:
    release_all(iv, 3);
    PyBuffer_Release(&ports);
    PyBuffer_Release(&data);
    return NULL;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS, decode_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_headers",
    .m_doc = "C speedup: the header decoder of frames.decode_batch.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__headers(void)
{
    return PyModule_Create(&module);
}
