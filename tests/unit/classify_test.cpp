// Classifier tests: a byte fixture (first client and server messages, written from the
// protocol specs) for every protocol, classified on its usual port and on a port nobody uses;
// negatives; every truncation of every fixture; split feeds; user signature files.
#include <unistd.h>
#include <x86intrin.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <deque>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/app_proto.h"
#include "dissectors/classify/classifier.h"
#include "dissectors/classify/probes.h"
#include "dissectors/classify/signatures.h"

using namespace flowscribe;
using namespace flowscribe::dissect;
using namespace std::string_literals;

namespace {

constexpr uint16_t kOddPort = 47001;  // in no protocol's port list

// ---- byte builders ------------------------------------------------------------------------------

std::string H(const char* hex) {
  std::string out;
  int hi = -1;
  for (const char* p = hex; *p; ++p) {
    int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<char>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}
std::string be16(size_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string be24(size_t v) { return {static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string be32(size_t v) { return be16(v >> 16) + be16(v & 0xffff); }
std::string le16(size_t v) { return {static_cast<char>(v), static_cast<char>(v >> 8)}; }
std::string le32(size_t v) { return le16(v & 0xffff) + le16(v >> 16); }
std::string z(size_t n) { return std::string(n, '\0'); }
std::string fill(size_t n, char c) { return std::string(n, c); }
std::string S(const char* s) { return std::string(s); }
std::string cstr(const char* s) { return std::string(s) + '\0'; }

// BER TLV with a definite length (X.690).
std::string tlv(uint8_t tag, const std::string& v) {
  std::string out(1, static_cast<char>(tag));
  if (v.size() < 0x80) {
    out.push_back(static_cast<char>(v.size()));
  } else if (v.size() < 0x100) {
    out += "\x81";
    out.push_back(static_cast<char>(v.size()));
  } else {
    out += "\x82"; out += be16(v.size());
  }
  return out + v;
}
std::string ber_int(uint32_t v, uint8_t tag = 0x02) {
  std::string b;
  do {
    b.insert(b.begin(), static_cast<char>(v & 0xff));
    v >>= 8;
  } while (v != 0);
  if (static_cast<uint8_t>(b[0]) & 0x80) b.insert(b.begin(), '\0');
  return tlv(tag, b);
}

std::string dns_name(std::initializer_list<const char*> labels) {
  std::string out;
  for (const char* l : labels) {
    out.push_back(static_cast<char>(std::strlen(l)));
    out += l;
  }
  return out + '\0';
}
// RFC 1001 §14.1 first-level encoding of a 16-byte NetBIOS name.
std::string nb_encode(std::string name, uint8_t suffix) {
  name.resize(15, ' ');
  name.push_back(static_cast<char>(suffix));
  std::string out(1, '\x20');
  for (char c : name) {
    out.push_back(static_cast<char>('A' + ((static_cast<uint8_t>(c) >> 4) & 0xf)));
    out.push_back(static_cast<char>('A' + (static_cast<uint8_t>(c) & 0xf)));
  }
  return out;
}

// ---- fixtures -------------------------------------------------------------------------------------

struct Msg {
  bool client;
  std::string bytes;
};
struct Fixture {
  std::string name;
  AppProto proto;
  uint8_t transport;
  uint16_t port;
  std::vector<Msg> msgs;
  bool certain = true;  // expected certainty on both ports
};
Msg c(std::string b) { return {true, std::move(b)}; }
Msg s(std::string b) { return {false, std::move(b)}; }

std::string tls_client_hello() {
  std::string body = H("03 03") + fill(32, '\x11') + "\x20" + fill(32, '\x22');
  std::string suites = H("13 01 13 02 13 03 c0 2b c0 2f c0 2c c0 30 cc a9 cc a8 00 9c 00 9d 00 2f 00 35");
  body += be16(suites.size()) + suites + H("01 00");
  std::string host = "www.example.com";
  std::string names = z(1) + be16(host.size()) + host;
  std::string sni = be16(names.size()) + names;
  std::string exts = be16(0) + be16(sni.size()) + sni;
  exts += H("00 2b 00 03 02 03 04 00 0a 00 04 00 02 00 1d 00 0d 00 04 00 02 04 03");
  exts += H("00 33 00 26 00 24 00 1d 00 20") + fill(32, '\x33');
  body += be16(exts.size()) + exts;
  std::string hs = S("\x01") + be24(body.size()) + body;
  return H("16 03 01") + be16(hs.size()) + hs;
}
std::string tls_server_hello() {
  std::string body = H("03 03") + fill(32, '\x44') + "\x20" + fill(32, '\x22') + H("13 01 00");
  std::string exts = H("00 2b 00 02 03 04 00 33 00 24 00 1d 00 20") + fill(32, '\x55');
  body += be16(exts.size()) + exts;
  std::string hs = S("\x02") + be24(body.size()) + body;
  return H("16 03 03") + be16(hs.size()) + hs + H("14 03 03 00 01 01");
}
std::string dtls_record(uint8_t hs_type, const std::string& body) {
  std::string hs = std::string(1, static_cast<char>(hs_type)) + be24(body.size()) + H("00 00 00 00 00") + be24(body.size()) + body;
  return H("16 fe ff 00 00 00 00 00 00 00 00") + be16(hs.size()) + hs;
}
std::string smb2(uint16_t command, bool response, const std::string& body) {
  std::string h = H("fe 53 4d 42 40 00 00 00 00 00 00 00") + le16(command) + H("01 00") +
                  le32(response ? 1 : 0) + z(4) + z(8) + le32(0xfeff) + z(4) + z(8) + z(16);
  std::string m = h + body;
  return "\0"s + be24(m.size()) + m;
}
std::string rpc_call(uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc, const std::string& cred,
                     const std::string& args) {
  return be32(xid) + be32(0) + be32(2) + be32(prog) + be32(vers) + be32(proc) + cred + be32(0) + be32(0) + args;
}
std::string rpc_reply(uint32_t xid, const std::string& result) {
  return be32(xid) + be32(1) + be32(0) + be32(0) + be32(0) + be32(0) + result;
}
std::string record_mark(const std::string& m) { return be32(0x80000000u | m.size()) + m; }

std::string bson_hello() {
  std::string e = "\x10"s + cstr("hello") + le32(1) + "\x02"s + cstr("$db") + le32(6) + cstr("admin");
  return le32(e.size() + 5) + e + z(1);
}
std::string mongo_msg(uint32_t req, uint32_t resp_to, const std::string& doc) {
  std::string body = le32(0) + z(1) + doc;
  return le32(16 + body.size()) + le32(req) + le32(resp_to) + le32(2013) + body;
}

std::string krb_principal(std::initializer_list<const char*> parts, uint32_t type) {
  std::string names;
  for (const char* p : parts) names += tlv(0x1b, p);
  return tlv(0x30, tlv(0xa0, ber_int(type)) + tlv(0xa1, tlv(0x30, names)));
}
std::string krb_as_req() {
  std::string body = tlv(0xa0, tlv(0x03, H("00 50 80 00 10"))) + tlv(0xa1, krb_principal({"alice"}, 1)) +
                     tlv(0xa2, tlv(0x1b, "EXAMPLE.COM")) + tlv(0xa3, krb_principal({"krbtgt", "EXAMPLE.COM"}, 2)) +
                     tlv(0xa5, tlv(0x18, "20370913024805Z")) + tlv(0xa7, ber_int(12345678)) +
                     tlv(0xa8, tlv(0x30, ber_int(18) + ber_int(17)));
  std::string padata = tlv(0x30, tlv(0x30, tlv(0xa1, ber_int(128)) + tlv(0xa2, tlv(0x04, H("30 05 a0 03 01 01 ff")))));
  return tlv(0x6a, tlv(0x30, tlv(0xa1, ber_int(5)) + tlv(0xa2, ber_int(10)) + tlv(0xa3, padata) + tlv(0xa4, tlv(0x30, body))));
}
std::string krb_error() {
  return tlv(0x7e, tlv(0x30, tlv(0xa0, ber_int(5)) + tlv(0xa1, ber_int(30)) + tlv(0xa4, tlv(0x18, "20240101000000Z")) +
                                  tlv(0xa5, ber_int(0)) + tlv(0xa6, ber_int(25)) + tlv(0xa9, tlv(0x1b, "EXAMPLE.COM")) +
                                  tlv(0xaa, krb_principal({"krbtgt", "EXAMPLE.COM"}, 2))));
}

std::string dhcp_discover() {
  std::string m = H("01 01 06 00 39 03 f3 26 00 00 80 00") + z(16) + H("00 16 3e 12 34 56") + z(10) + z(64) + z(128);
  m += H("63 82 53 63 35 01 01 3d 07 01 00 16 3e 12 34 56 37 04 01 03 06 0f 39 02 05 dc ff");
  return m + z(300 - m.size());  // BOOTP pads to 300 bytes
}
std::string dhcp_offer() {
  std::string m = H("02 01 06 00 39 03 f3 26 00 00 80 00 00 00 00 00 c0 a8 01 64 c0 a8 01 01 00 00 00 00") +
                  H("00 16 3e 12 34 56") + z(10) + z(64) + z(128);
  return m + H("63 82 53 63 35 01 02 36 04 c0 a8 01 01 33 04 00 00 0e 10 01 04 ff ff ff 00 ff");
}

std::string ntp_packet(uint8_t first, uint8_t stratum, const std::string& origin, const std::string& xmit) {
  return std::string(1, static_cast<char>(first)) + std::string(1, static_cast<char>(stratum)) + H("06 e9") +
         z(8) + (stratum ? std::string("GPS\0", 4) : z(4)) + z(8) + origin + z(8) + xmit;
}

std::string dnp3_frame(const std::string& hdr8) {
  uint16_t crc = probes::dnp3_crc(reinterpret_cast<const uint8_t*>(hdr8.data()), 8);
  return hdr8 + le16(crc);
}

std::string quic_initial(uint8_t first, const std::string& dcid, const std::string& scid, size_t total) {
  std::string h = std::string(1, static_cast<char>(first)) + H("00 00 00 01") + std::string(1, static_cast<char>(dcid.size())) +
                  dcid + std::string(1, static_cast<char>(scid.size())) + scid + z(1);
  const size_t rest = total - h.size() - 2;
  h += be16(0x4000 | rest);
  return h + fill(rest, '\x5a');
}

std::vector<Fixture> fixtures() {
  std::vector<Fixture> f;
  // --- web and remote access
  f.push_back({"http", AppProto::kHttp, kTransportTcp, 80,
               {c("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"),
                s("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 5\r\n\r\nhello")}});
  f.push_back({"http-post", AppProto::kHttp, kTransportTcp, 8080,
               {c("POST /api/v1/items HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"),
                s("HTTP/1.0 201 Created\r\n\r\n")}});
  f.push_back({"http2", AppProto::kHttp2, kTransportTcp, 80,
               {c(S("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + H("00 00 06 04 00 00 00 00 00 00 03 00 00 00 64")),
                s(H("00 00 00 04 00 00 00 00 00"))}});
  f.push_back({"tls", AppProto::kTls, kTransportTcp, 443, {c(tls_client_hello()), s(tls_server_hello())}});
  f.push_back({"dtls", AppProto::kDtls, kTransportUdp, 4433,
               {c(dtls_record(1, H("fe fd") + fill(32, '\x66') + H("00 00 00 04 c0 2b c0 2f 01 00"))),
                s(dtls_record(3, H("fe ff 20") + fill(32, '\x77')))}});
  f.push_back({"ssh", AppProto::kSsh, kTransportTcp, 22,
               {s("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"), c("SSH-2.0-OpenSSH_9.6\r\n")}});
  {
    std::string var = S("Cookie: mstshash=administrator\r\n") + H("01 00 08 00 0b 00 00 00");
    std::string x224 = std::string(1, static_cast<char>(6 + var.size())) + H("e0 00 00 00 00 00") + var;
    std::string cr = H("03 00") + be16(4 + x224.size()) + x224;
    f.push_back({"rdp", AppProto::kRdp, kTransportTcp, 3389,
                 {c(cr), s(H("03 00 00 13 0e d0 00 00 12 34 00 02 1f 08 00 02 00 00 00"))}});
  }
  f.push_back({"vnc", AppProto::kVnc, kTransportTcp, 5900, {s("RFB 003.008\n"), c("RFB 003.008\n"), s(H("01 02"))}});
  f.push_back({"telnet", AppProto::kTelnet, kTransportTcp, 23,
               {s(H("ff fd 18 ff fd 20 ff fd 23 ff fd 27")), c(H("ff fb 18 ff fb 20 ff fc 23 ff fb 27"))}});
  f.push_back({"ftp", AppProto::kFtp, kTransportTcp, 21,
               {s("220 (vsFTPd 3.0.3)\r\n"), c("USER anonymous\r\n"), s("331 Please specify the password.\r\n")}});
  f.push_back({"ftp-feat", AppProto::kFtp, kTransportTcp, 21,
               {s("220-FileZilla Server 1.7.0\r\n220 Please visit https://filezilla-project.org/\r\n"), c("AUTH TLS\r\n"),
                s("234 Using authentication type TLS.\r\n")}});
  // --- file sharing and RPC
  {
    std::string neg = H("24 00 05 00 01 00 00 00 7f 00 00 00") + fill(16, '\x42') + z(8) + H("02 02 10 02 00 03 02 03 11 03");
    std::string rsp = H("41 00 01 00 11 03 00 00") + fill(16, '\x43') + H("2f 00 00 00 00 00 80 00 00 00 80 00 00 00 80 00") + z(16) + H("80 00 00 00 00 00 00 00");
    f.push_back({"smb2", AppProto::kSmb, kTransportTcp, 445, {c(smb2(0, false, neg)), s(smb2(0, true, rsp))}});
    std::string sreq = nb_encode("FILESERVER", 0x20) + z(1) + nb_encode("WORKSTATION", 0x00) + z(1);
    std::string smb1 = H("ff 53 4d 42 72 00 00 00 00 18 53 c8 00 00 00 00 00 00 00 00 00 00 00 00 ff fe 00 00 00 00 00") +
                       H("00 22 00") + "\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???\0"s;
    f.push_back({"smb1-nbss", AppProto::kSmb, kTransportTcp, 139,
                 {c(H("81 00") + be16(sreq.size()) + sreq), s(H("82 00 00 00")), c("\0"s + be24(smb1.size()) + smb1)}});
  }
  {
    std::string m = rpc_call(0x5a1c0001, 100003, 3, 0, be32(0) + be32(0), "");
    f.push_back({"nfs-tcp", AppProto::kNfs, kTransportTcp, 2049, {c(record_mark(m)), s(record_mark(rpc_reply(0x5a1c0001, "")))}});
    std::string sys = be32(1) + be32(24) + be32(0x65a0f1c2) + be32(4) + S("host") + be32(0) + be32(0) + be32(0);
    std::string getport = rpc_call(0x11223344, 100000, 2, 3, sys, be32(100003) + be32(3) + be32(6) + be32(0));
    f.push_back({"rpc-portmap-udp", AppProto::kRpc, kTransportUdp, 111, {c(getport), s(rpc_reply(0x11223344, be32(2049)))}});
  }
  // --- name services
  {
    std::string q = H("1a 2b 01 00 00 01 00 00 00 00 00 01") + dns_name({"www", "example", "com"}) + H("00 01 00 01") +
                    H("00 00 29 04 d0 00 00 00 00 00 00");
    std::string r = H("1a 2b 81 80 00 01 00 01 00 00 00 00") + dns_name({"www", "example", "com"}) + H("00 01 00 01") +
                    H("c0 0c 00 01 00 01 00 00 0e 10 00 04 5d b8 d8 22");
    f.push_back({"dns-udp", AppProto::kDns, kTransportUdp, 53, {c(q), s(r)}});
    std::string tq = H("be ef 01 20 00 01 00 00 00 00 00 00") + dns_name({"example", "org"}) + H("00 1c 00 01");
    f.push_back({"dns-tcp", AppProto::kDns, kTransportTcp, 53, {c(be16(tq.size()) + tq)}});
    std::string mq = H("00 00 00 00 00 01 00 00 00 00 00 00") + dns_name({"_googlecast", "_tcp", "local"}) + H("00 0c 80 01");
    std::string mr = H("00 00 84 00 00 00 00 01 00 00 00 00") + dns_name({"_googlecast", "_tcp", "local"}) +
                     H("00 0c 00 01 00 00 00 78 00 07") + dns_name({"tv-1"}).substr(0, 5) + H("c0 0c");
    f.push_back({"mdns", AppProto::kMdns, kTransportUdp, 5353, {c(mq), s(mr)}});
    std::string lq = H("9c 41 00 00 00 01 00 00 00 00 00 00") + dns_name({"wpad"}) + H("00 01 00 01");
    std::string lr = H("9c 41 80 00 00 01 00 01 00 00 00 00") + dns_name({"wpad"}) + H("00 01 00 01") +
                     H("c0 0c 00 01 00 01 00 00 00 1e 00 04 c0 a8 01 0a");
    f.push_back({"llmnr", AppProto::kLlmnr, kTransportUdp, 5355, {c(lq), s(lr)}});
    std::string nq = H("87 a3 01 10 00 01 00 00 00 00 00 00") + nb_encode("WORKGROUP", 0x1d) + z(1) + H("00 20 00 01");
    f.push_back({"nbns", AppProto::kNbns, kTransportUdp, 137, {c(nq)}});
  }
  // --- mail
  f.push_back({"smtp", AppProto::kSmtp, kTransportTcp, 25,
               {s("220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n"), c("EHLO client.example.org\r\n"),
                s("250-mail.example.com\r\n250-PIPELINING\r\n250 STARTTLS\r\n")}});
  f.push_back({"pop3", AppProto::kPop3, kTransportTcp, 110,
               {s("+OK Dovecot (Debian) ready.\r\n"), c("CAPA\r\n"), s("+OK\r\nCAPA\r\nTOP\r\nUIDL\r\n.\r\n")}});
  f.push_back({"pop3-auth", AppProto::kPop3, kTransportTcp, 110,
               {s("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"), c("AUTH PLAIN\r\n")}});
  f.push_back({"imap", AppProto::kImap, kTransportTcp, 143,
               {s("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n"),
                c("a001 CAPABILITY\r\n")}});
  // --- databases
  {
    std::string g = "\x0a"s + cstr("5.5.5-10.11.6-MariaDB-0+deb12u1") + le32(31) + S("abcdefgh") + z(1) + H("fe f7 2d 02 00 ff 81 15") + z(6) + H("1d 00 00 00") + cstr("ijklmnopqrst") + cstr("mysql_native_password");
    std::string greeting = le16(g.size()) + z(1) + z(1) + g;
    std::string resp = H("85 a6 ff 01 00 00 00 01 21") + z(23) + cstr("root") + "\x14"s + fill(20, '\x09') + cstr("mysql_native_password");
    f.push_back({"mysql", AppProto::kMysql, kTransportTcp, 3306, {s(greeting), c(le16(resp.size()) + z(1) + "\x01"s + resp)}});
  }
  {
    std::string params = cstr("user") + cstr("postgres") + cstr("database") + cstr("app") + cstr("application_name") + cstr("psql") + z(1);
    std::string startup = be32(8 + params.size()) + be32(0x00030000) + params;
    f.push_back({"postgresql", AppProto::kPostgresql, kTransportTcp, 5432,
                 {c(startup), s("R"s + be32(23) + be32(10) + cstr("SCRAM-SHA-256") + z(1))}});
    f.push_back({"postgresql-ssl", AppProto::kPostgresql, kTransportTcp, 5432, {c(H("00 00 00 08 04 d2 16 2f")), s("N")}});
  }
  {
    // PRELOGIN: VERSION(6) ENCRYPTION(1) INSTOPT(1) THREADID(4) MARS(1), offsets from the body.
    std::string opts = H("00 00 1a 00 06 01 00 20 00 01 02 00 21 00 01 03 00 22 00 04 04 00 26 00 01 ff");
    std::string data = H("10 00 07 d0 00 00 00 00 00 00 00 00 00");
    std::string body = opts + data;
    std::string pkt = H("12 01") + be16(8 + body.size()) + H("00 00 01 00") + body;
    std::string sbody = H("00 00 0b 00 06 01 00 11 00 01 ff 0f 00 10 c3 00 00 00");
    f.push_back({"tds", AppProto::kTds, kTransportTcp, 1433, {c(pkt), s(H("04 01") + be16(8 + sbody.size()) + H("00 00 01 00") + sbody)}});
  }
  f.push_back({"redis", AppProto::kRedis, kTransportTcp, 6379,
               {c("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"), s("+OK\r\n")}});
  f.push_back({"mongodb", AppProto::kMongodb, kTransportTcp, 27017,
               {c(mongo_msg(1, 0, bson_hello())), s(mongo_msg(77, 1, bson_hello()))}});
  f.push_back({"memcached", AppProto::kMemcached, kTransportTcp, 11211, {c("set foo 0 0 3\r\nbar\r\n"), s("STORED\r\n")}});
  f.push_back({"memcached-udp", AppProto::kMemcached, kTransportUdp, 11211,
               {c(H("00 01 00 00 00 01 00 00") + "stats\r\n"), s(H("00 01 00 00 00 01 00 00") + "STAT pid 1234\r\nEND\r\n")}});
  // --- directory, auth, management
  {
    std::string bind = tlv(0x30, ber_int(1) + tlv(0x60, ber_int(3) + tlv(0x04, "cn=admin,dc=example,dc=com") + tlv(0x80, "secret")));
    std::string resp = tlv(0x30, ber_int(1) + tlv(0x61, ber_int(0, 0x0a) + tlv(0x04, "") + tlv(0x04, "")));
    f.push_back({"ldap", AppProto::kLdap, kTransportTcp, 389, {c(bind), s(resp)}});
    std::string search = tlv(0x30, ber_int(2) + tlv(0x63, tlv(0x04, "") + ber_int(0, 0x0a) + ber_int(0, 0x0a) +
                                                           ber_int(0) + ber_int(0) + tlv(0x01, H("00")) +
                                                           tlv(0x87, "objectClass") + tlv(0x30, tlv(0x04, "netlogon"))));
    f.push_back({"cldap", AppProto::kLdap, kTransportUdp, 389, {c(search)}});
  }
  f.push_back({"kerberos-udp", AppProto::kKerberos, kTransportUdp, 88, {c(krb_as_req()), s(krb_error())}});
  f.push_back({"kerberos-tcp", AppProto::kKerberos, kTransportTcp, 88,
               {c(be32(krb_as_req().size()) + krb_as_req()), s(be32(krb_error().size()) + krb_error())}});
  {
    std::string vb = tlv(0x30, tlv(0x30, tlv(0x06, H("2b 06 01 02 01 01 01 00")) + H("05 00")));
    std::string get = tlv(0x30, ber_int(1) + tlv(0x04, "public") + tlv(0xa0, ber_int(0x1b2c3d4e) + ber_int(0) + ber_int(0) + vb));
    std::string vbr = tlv(0x30, tlv(0x30, tlv(0x06, H("2b 06 01 02 01 01 01 00")) + tlv(0x04, "Linux sensor 6.1.0")));
    std::string rsp = tlv(0x30, ber_int(1) + tlv(0x04, "public") + tlv(0xa2, ber_int(0x1b2c3d4e) + ber_int(0) + ber_int(0) + vbr));
    f.push_back({"snmp", AppProto::kSnmp, kTransportUdp, 161, {c(get), s(rsp)}});
    std::string v3 = tlv(0x30, ber_int(3) + tlv(0x30, ber_int(821490644) + ber_int(65507) + tlv(0x04, H("04")) + ber_int(3)) +
                               tlv(0x04, tlv(0x30, tlv(0x04, "") + ber_int(0) + ber_int(0) + tlv(0x04, "") + tlv(0x04, "") + tlv(0x04, ""))) +
                               tlv(0x30, tlv(0x04, "") + tlv(0x04, "") + tlv(0xa0, ber_int(1) + ber_int(0) + ber_int(0) + tlv(0x30, ""))));
    f.push_back({"snmpv3", AppProto::kSnmp, kTransportUdp, 161, {c(v3)}});
  }
  f.push_back({"dhcp", AppProto::kDhcp, kTransportUdp, 67, {c(dhcp_discover()), s(dhcp_offer())}});
  f.push_back({"dhcpv6", AppProto::kDhcpv6, kTransportUdp, 547,
               {c(H("01 10 08 74 00 01 00 0e 00 01 00 01 2c 3a 5e 10 00 16 3e 12 34 56 00 06 00 04 00 17 00 18 00 08 00 02 00 00 00 03 00 0c 0e 3e 12 34 00 00 00 00 00 00 00 00")),
                s(H("02 10 08 74 00 01 00 0e 00 01 00 01 2c 3a 5e 10 00 16 3e 12 34 56 00 02 00 0e 00 01 00 01 2b 00 00 01 00 16 3e aa bb cc"))}});
  {
    std::string xmit = H("e9 0f 5a 4b 1c 2d 3e 4f");
    f.push_back({"ntp", AppProto::kNtp, kTransportUdp, 123,
                 {c(ntp_packet(0x23, 0, z(8), xmit)), s(ntp_packet(0x24, 1, xmit, H("e9 0f 5a 4b 2c 2d 3e 4f")))}});
  }
  f.push_back({"syslog-5424", AppProto::kSyslog, kTransportUdp, 514,
               {c("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8")}});
  f.push_back({"syslog-3164", AppProto::kSyslog, kTransportUdp, 514, {c("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!")}});
  f.push_back({"syslog-tcp", AppProto::kSyslog, kTransportTcp, 601,
               {c("61 <165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time")}});
  f.push_back({"tftp", AppProto::kTftp, kTransportUdp, 69, {c("\0\1"s + cstr("pxelinux.0") + cstr("octet") + cstr("tsize") + cstr("0") + cstr("blksize") + cstr("1456"))}});
  f.push_back({"tftp-data", AppProto::kTftp, kTransportUdp, 49152, {c(H("00 03 00 01") + fill(300, 'x')), s(H("00 04 00 01"))}});
  // --- voice, video, messaging
  f.push_back({"sip", AppProto::kSip, kTransportUdp, 5060,
               {c("OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\n"
                  "To: <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
                s("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776asdhds\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n")}});
  f.push_back({"sip-tcp", AppProto::kSip, kTransportTcp, 5060,
               {c("REGISTER sip:registrar.example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.4:5060\r\nCSeq: 1 REGISTER\r\n\r\n")}});
  f.push_back({"rtsp", AppProto::kRtsp, kTransportTcp, 554,
               {c("OPTIONS rtsp://192.0.2.10:554/stream RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: LibVLC/3.0.18\r\n\r\n"),
                s("RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE\r\n\r\n")}});
  f.push_back({"irc", AppProto::kIrc, kTransportTcp, 6667,
               {c("CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :Alice Liddell\r\n"),
                s(":irc.example.net NOTICE * :*** Looking up your hostname...\r\n")}});
  f.push_back({"irc-server-first", AppProto::kIrc, kTransportTcp, 6667,
               {s(":irc.example.net NOTICE AUTH :*** Looking up your hostname\r\n"), c("NICK bob\r\nUSER bob 8 * :Bob\r\n")}});
  f.push_back({"xmpp", AppProto::kXmpp, kTransportTcp, 5222,
               {c("<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"),
                s("<?xml version='1.0'?><stream:stream from='example.com' id='++TR84Sm6A3hnt3Q065SnAbbk3Y=' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")}});
  f.push_back({"mqtt", AppProto::kMqtt, kTransportTcp, 1883,
               {c(H("10 17 00 04 4d 51 54 54 04 02 00 3c 00 0b") + "sensor-0042"), s(H("20 02 00 00"))}});
  f.push_back({"amqp", AppProto::kAmqp, kTransportTcp, 5672,
               {c("AMQP\0\0\x09\x01"s), s(H("01 00 00 00 00 01 f4 00 0a 00 0a 00 09"))}});
  f.push_back({"stun", AppProto::kStun, kTransportUdp, 3478,
               {c(H("00 01 00 08 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae 80 22 00 04 74 65 73 74")),
                s(H("01 01 00 0c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae 00 20 00 08 00 01 a1 47 e1 12 a6 43"))}});
  f.push_back({"ssdp", AppProto::kSsdp, kTransportUdp, 1900,
               {c("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n")}});
  // --- peer to peer, proxies, VPN
  {
    std::string hs = "\x13" "BitTorrent protocol"s + H("00 00 00 00 00 10 00 05") + fill(20, '\xaa');
    f.push_back({"bittorrent", AppProto::kBittorrent, kTransportTcp, 6881, {c(hs + "-qB4620-abcdefghijkl"), s(hs + "-TR4050-mnopqrstuvwx")}});
    f.push_back({"bittorrent-dht", AppProto::kBittorrent, kTransportUdp, 6881,
                 {c("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"), s("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re")}});
  }
  f.push_back({"socks5", AppProto::kSocks, kTransportTcp, 1080,
               {c(H("05 02 00 02")), s(H("05 00")), c(H("05 01 00 03 0b") + "example.com" + H("01 bb"))}});
  f.push_back({"socks4", AppProto::kSocks, kTransportTcp, 1080, {c(H("04 01 00 50 5d b8 d8 22") + cstr("alice")), s(H("00 5a 00 00 00 00 00 00"))}});
  {
    std::string sid = H("8a 3d 21 77 0b 4c 90 e2");
    f.push_back({"openvpn", AppProto::kOpenvpn, kTransportUdp, 1194,
                 {c("\x38"s + sid + H("00 00 00 00 00")), s("\x40"s + H("11 22 33 44 55 66 77 88 01 00 00 00 00") + sid + H("00 00 00 00"))}});
    std::string cm = "\x38"s + sid + H("00 00 00 00 00");
    std::string sm = "\x40"s + H("11 22 33 44 55 66 77 88 01 00 00 00 00") + sid + H("00 00 00 00");
    f.push_back({"openvpn-tcp", AppProto::kOpenvpn, kTransportTcp, 1194, {c(be16(cm.size()) + cm), s(be16(sm.size()) + sm)}});
  }
  // IKE (Arkime IKEv2.pcap: the first bytes of IKE_SA_INIT, its answer with the same initiator
  // SPI; the header's length made the datagram's).
  {
    auto ike = [](const std::string& spis, const std::string& rest, size_t len) {
      std::string m = spis + rest + be16(0) + be16(static_cast<uint16_t>(len));
      m.resize(len, '\0');
      return m;
    };
    const std::string ispi = H("8e 77 79 46 40 44 67 3e");
    f.push_back({"ike", AppProto::kIke, kTransportUdp, 500,
                 {c(ike(ispi + fill(8, '\0'), H("21 20 22 08 00 00 00 00"), 216)),
                  s(ike(ispi + H("7b 45 2c 84 2b c4 e8 91"), H("21 20 22 20 00 00 00 00"), 216))}});
  }
  f.push_back({"wireguard", AppProto::kWireguard, kTransportUdp, 51820,
               {c(H("01 00 00 00 5e 7a 11 03") + fill(140, '\x3c')), s(H("02 00 00 00 91 d2 00 7a 5e 7a 11 03") + fill(80, '\x4d'))}});
  f.push_back({"quic", AppProto::kQuic, kTransportUdp, 443,
               {c(quic_initial(0xc3, H("83 94 c8 f0 3e 51 57 08"), "", 1250)),
                s(quic_initial(0xc1, "", H("f0 67 a5 50 2a 42 62 b5"), 1200))}});
  // --- industrial, routing, sync
  f.push_back({"modbus", AppProto::kModbus, kTransportTcp, 502,
               {c(H("00 01 00 00 00 06 11 03 00 6b 00 03")), s(H("00 01 00 00 00 09 11 03 06 02 2b 00 00 00 64"))}});
  // OPC UA (Arkime opcua_synthetic.pcap: HEL with its EndpointUrl, the server's ACK).
  f.push_back({"opcua", AppProto::kOpcua, kTransportTcp, 4840,
               {c(H("48 45 4c 46 3d 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00 01 88 13 00 00 1d 00 00 00") +
                  "opc.tcp://hostA.example:4840/"),
                s(H("41 43 4b 46 1c 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00 01 88 13 00 00"))}});
  // ADB: the host's CNXN (Debian's adb, tests/captures/dissect/adb/adb-connect.pcap) and a
  // device's CNXN built by the protocol; a client of the adb server (adb-server.pcap) and its OKAY.
  f.push_back({"adb", AppProto::kAdb, kTransportTcp, 5555,
               {c(H("43 4e 58 4e 01 00 00 01 00 00 10 00 77 00 00 00 40 2e 00 00 bc b1 a7 b1") +
                  "host::features=remount_shell,abb_exec,abb,apex,fixed_push_mkdir,ls_v2,stat_v2,"
                  "fixed_push_symlink_timestamp,cmd,shell_v2"),
                s(H("43 4e 58 4e 01 00 00 01 00 00 10 00 4a 00 00 00 ad 1c 00 00 bc b1 a7 b1") +
                  "device::ro.product.name=flowscribe;ro.product.model=test;features=shell_v2")}});
  f.push_back({"adb-server", AppProto::kAdb, kTransportTcp, 5037, {c("000chost:version"), s("OKAY0029")}});
  f.push_back({"dnp3", AppProto::kDnp3, kTransportTcp, 20000,
               {c(dnp3_frame(H("05 64 05 c9 01 00 00 04"))), s(dnp3_frame(H("05 64 05 0b 00 04 01 00")))}});
  {
    std::string open = fill(16, '\xff') + H("00 1d 01 04 fd e8 00 b4 c0 00 02 01 00");
    f.push_back({"bgp", AppProto::kBgp, kTransportTcp, 179, {c(open), s(open), c(fill(16, '\xff') + H("00 13 04"))}});
  }
  f.push_back({"rsync", AppProto::kRsync, kTransportTcp, 873, {s("@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4\n"), c("@RSYNCD: 31.0 md5 md4\n")}});
  {
    std::string req = "git-upload-pack /project.git\0host=git.example.com\0"s;
    char len[5];
    std::snprintf(len, sizeof len, "%04zx", req.size() + 4);
    f.push_back({"git", AppProto::kGit, kTransportTcp, 9418, {c(len + req)}});
  }
  // --- shapes that measuring on public captures turned up (docs/protocols.md, "Measured"),
  // written from the specs
  // A request line the server refused is still HTTP: its status line says so (RFC 9112 §4).
  f.push_back({"http-bad-request", AppProto::kHttp, kTransportTcp, 80,
               {c("OPTIONS HTTP/1.1\r\nHost: example.com\r\n\r\n"), s("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")}});
  // RFC 9110 §9.1: any token is a method; extension methods have digits and '_' too.
  f.push_back({"http-extension-method", AppProto::kHttp, kTransportTcp, 8080,
               {c("X1_SYNC /items/42 HTTP/1.1\r\nHost: api.example.com\r\n\r\n"), s("HTTP/1.1 501 Not Implemented\r\n\r\n")}});
  f.push_back({"http-webdav", AppProto::kHttp, kTransportTcp, 80,
               {c("MKCALENDAR /calendars/alice/work/ HTTP/1.1\r\nHost: cal.example.com\r\nContent-Length: 0\r\n\r\n"),
                s("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")}});
  // Picked up mid-stream: the client's bytes are the end of a form body.
  f.push_back({"http-midstream", AppProto::kHttp, kTransportTcp, 80,
               {c("name=alice&city=paris&submit=Send"), s("HTTP/1.1 303 See Other\r\nLocation: /thanks\r\n\r\n")}});
  // HTTP/0.9 Simple-Request (RFC 1945 §4.1): no version, the answer is the bare entity.
  f.push_back({"http-0.9", AppProto::kHttp, kTransportTcp, 80,
               {c("GET /index.html\r\n"), s("<html><body>It works</body></html>\n")}, false});
  {
    // SSL 2.0-compatible ClientHello offering TLS 1.0 (RFC 5246 Appendix E.2): 7 cipher specs,
    // no session id, a 16-byte challenge.
    std::string specs = H("00 00 39 00 00 38 00 00 35 00 00 33 00 00 2f 00 00 0a 00 00 ff");
    std::string body = H("01 03 01") + be16(specs.size()) + be16(0) + be16(16) + specs + fill(16, '\x5c');
    f.push_back({"tls-sslv2-hello", AppProto::kTls, kTransportTcp, 443,
                 {c(std::string(1, static_cast<char>(0x80 | (body.size() >> 8))) + std::string(1, static_cast<char>(body.size() & 0xff)) + body),
                  s(tls_server_hello())}});
  }
  // FTP picked up mid-session: a command only FTP has, answered by a numbered reply (RFC 959).
  f.push_back({"ftp-midstream", AppProto::kFtp, kTransportTcp, 21,
               {c("PASV\r\n"), s("227 Entering Passive Mode (192,0,2,10,195,80).\r\n")}});
  // The server side was not captured (or answers late): a run of FTP commands.
  f.push_back({"ftp-client-only", AppProto::kFtp, kTransportTcp, 21,
               {c("USER anonymous\r\n"), c("PASS guest@example.org\r\n"), c("SYST\r\n")}});
  // An early-talking SMTP client (RFC 5321 §4.3.1 says wait; some do not): EHLO before the
  // greeting.
  f.push_back({"smtp-client-first", AppProto::kSmtp, kTransportTcp, 25,
               {c("EHLO client.example.org\r\n"), s("220 mx.example.net ESMTP ready\r\n250-mx.example.net\r\n250 PIPELINING\r\n")}});
  // Commands are case-insensitive (RFC 5321 §2.4); only the client side captured.
  f.push_back({"smtp-client-only", AppProto::kSmtp, kTransportTcp, 25,
               {c("ehlo client.example.org\r\n"), c("mail from:<alice@example.org>\r\n"), c("rcpt to:<bob@example.net>\r\n")}});
  {
    // POSITIVE NAME QUERY RESPONSE (RFC 1002 §4.2.13): no question, the name is in the answer.
    std::string r = H("4e 21 85 00 00 00 00 01 00 00 00 00") + nb_encode("FILESERVER", 0x20) + z(1) +
                    H("00 20 00 01 00 04 93 e0 00 06 00 00 c0 a8 01 14");
    f.push_back({"nbns-answer", AppProto::kNbns, kTransportUdp, 137, {c(r)}});
  }
  {
    // NetBIOS datagram (RFC 1002 §4.4.1, DIRECT_GROUP) carrying an SMB1 mailslot transaction
    // (a browser announcement), as Windows sends to UDP 138.
    std::string smb = H("ff 53 4d 42 25 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00") +
                      H("11 00 00 21 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 21 00 56 00 03 00 01 00 00 00 02 00 32 00") +
                      S("\\MAILSLOT\\BROWSE") + z(1) + H("01 00 80 fc 0a 00") + S("HOST-A") + z(10) + H("06 01 03 10 0f 01 55 aa") + z(1);
    std::string names = nb_encode("HOST-A", 0x00) + z(1) + nb_encode("WORKGROUP", 0x1d) + z(1);
    std::string dgm = H("11 02 80 01 c0 a8 01 05 00 8a") + be16(names.size() + smb.size()) + be16(0) + names + smb;
    f.push_back({"smb-netbios-datagram", AppProto::kSmb, kTransportUdp, 138, {c(dgm)}});
  }
  {
    // A StartupMessage whose length field disagrees with its parameters, answered as one
    // (AuthenticationOk, §55.7): the server's answer decides.
    std::string params = cstr("user") + cstr("app") + cstr("database") + cstr("appdb") + z(1);
    std::string startup = be32(8 + params.size() - 6) + be32(0x00030000) + params;
    f.push_back({"postgresql-answered", AppProto::kPostgresql, kTransportTcp, 5432,
                 {c(startup), s("R"s + be32(8) + be32(0))}});
  }
  // Google QUIC Q043 (gQUIC public header: flags VERSION | 8-byte connection id in the old
  // 0x0c encoding, connection id, "Q043", packet number 1, 12-byte message hash, a STREAM frame
  // on stream 1 carrying the CHLO handshake message), padded as clients pad it.
  {
    std::string chlo = "CHLO"s + H("02 00 00 00") + "SNI\0"s + le32(11) + "VER\0"s + le32(15) + "www.example" + "Q043";
    std::string pkt = H("0d") + H("8f 2a 11 3c 5d 77 e0 91") + "Q043" + H("01") + fill(12, '\x3e') + H("a0 01") + be16(chlo.size()) + chlo;
    pkt += z(1350 - pkt.size());
    f.push_back({"quic-gquic", AppProto::kQuic, kTransportUdp, 443, {c(pkt)}});
  }
  // Classic STUN (RFC 3489 §11.1): Binding Request with CHANGE-REQUEST, no magic cookie; the
  // response carries MAPPED-ADDRESS and the same transaction id.
  {
    std::string tid = H("5a 0c 31 77 e2 90 1b 4d 68 aa 03 f1 c7 22 9e 10");
    f.push_back({"stun-classic", AppProto::kStun, kTransportUdp, 3478,
                 {c(H("00 01 00 08") + tid + H("00 03 00 04 00 00 00 00")),
                  s(H("01 01 00 0c") + tid + H("00 01 00 08 00 01 e1 47 c6 33 64 0a"))}});
  }
  // Modbus: a user-defined function code (65, §5) refused with exception 1 (ILLEGAL FUNCTION).
  f.push_back({"modbus-exception", AppProto::kModbus, kTransportTcp, 502,
               {c(H("00 07 00 00 00 04 01 41 00 01")), s(H("00 07 00 00 00 03 01 c1 01"))}});
  // DHCPv6 LEASEQUERY (RFC 5007 §4.2: msg-type 14, CLIENTID, LQ_QUERY option 44 with a
  // query type and link address).
  f.push_back({"dhcpv6-leasequery", AppProto::kDhcpv6, kTransportUdp, 547,
               {c(H("0e 4c 51 01 00 01 00 0a 00 03 00 01 00 16 3e 12 34 56 00 2c 00 11 02") + H("20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"))}});
  // RDP over UDP (MS-RDPEUDP 3.1.5.1.1/3.1.5.1.3): SYN with snSourceAck -1, window 64, an
  // initial sequence number and MTUs 1232, padded to 1232 bytes; the SYN+ACK acknowledges it.
  {
    std::string syn = H("ff ff ff ff 00 40 00 01 5c 21 9e 03 04 d0 04 d0");
    std::string synack = H("5c 21 9e 03 00 40 00 05 71 0d 44 e8 04 b0 04 d0");
    f.push_back({"rdp-udp", AppProto::kRdp, kTransportUdp, 3389, {c(syn + z(1232 - syn.size())), s(synack + z(1232 - synack.size()))}});
  }
  // MS-TURN Allocate ([MS-TURN] 2.2.2): 128-bit transaction id, the Magic Cookie attribute
  // first, then an unpadded USERNAME - the length is not a multiple of 4.
  {
    std::string attrs = H("00 0f 00 04 72 c6 4b c6") + H("00 06 00 05") + "alice";
    f.push_back({"stun-ms-turn", AppProto::kStun, kTransportUdp, 3478,
                 {c(H("00 03") + be16(attrs.size()) + H("7c 33 90 1e 4a 0b 8d 22 15 66 f0 09 b3 c4 5d 71") + attrs)}});
  }
  // Sybase / TDS 4.2-5.0 login (MS-TDS 2.2.3.1.1 type 0x02): 512-byte packet, the record opens
  // with host, user, password and host process (30 bytes + a length byte each); the server
  // answers with a type 0x04 packet starting with an ENVCHANGE token.
  {
    auto field = [](const char* v) { std::string f30(v); const size_t n = f30.size(); f30.resize(30, '\0'); return f30 + std::string(1, static_cast<char>(n)); };
    std::string rec = field("WS01") + field("sa") + field("secret") + field("4711");
    std::string login = H("02 01 02 00 00 00 01 00") + rec + z(512 - 8 - rec.size());
    std::string env = H("e3 0f 00 01 06") + "master" + H("06") + "master";
    std::string ack = H("04 01") + be16(8 + env.size()) + H("00 00 00 00") + env;
    f.push_back({"tds-sybase-login", AppProto::kTds, kTransportTcp, 5000, {c(login), s(ack)}});
  }
  // MongoDB OP_QUERY (2004) with responseTo -1, as some drivers send it: admin.$cmd {isMaster: 1}.
  {
    std::string doc = "\x10"s + cstr("isMaster") + le32(1);
    doc = le32(doc.size() + 5) + doc + z(1);
    std::string body = le32(0) + cstr("admin.$cmd") + le32(0) + le32(0xffffffff) + doc;
    f.push_back({"mongodb-op-query", AppProto::kMongodb, kTransportTcp, 27017,
                 {c(le32(16 + body.size()) + le32(7) + le32(0xffffffff) + le32(2004) + body)}});
  }
  // DTLS1_BAD_VER (0x0100): OpenSSL's pre-RFC 4347 DTLS, still used by Cisco AnyConnect.
  {
    std::string body = H("01 00") + fill(32, '\x61') + H("00 00 00 04 00 2f 00 35 01 00");
    std::string hs = "\x01"s + be24(body.size()) + H("00 00 00 00 00") + be24(body.size()) + body;
    f.push_back({"dtls-bad-version", AppProto::kDtls, kTransportUdp, 443, {c(H("16 01 00 00 00 00 00 00 00 00 00") + be16(hs.size()) + hs)}});
  }
  return f;
}

std::shared_ptr<const ClassifierDb> shared_db() {
  static std::shared_ptr<const ClassifierDb> db = [] {
    auto r = compile_classifier("");
    REQUIRE(r.ok());
    return *r;
  }();
  return db;
}

Classifier& shared_classifier() {
  static Classifier cls(shared_db());
  return cls;
}

// Feeds the messages (each cut into `pieces` feeds), then finish().
Decision run(Classifier& cls, uint8_t transport, uint16_t port, const std::vector<Msg>& msgs, size_t pieces = 1) {
  auto st = std::make_unique<ClassifyState>();
  cls.init(*st, transport, 40000, port);
  Decision d;
  for (const Msg& m : msgs) {
    const size_t n = transport == kTransportUdp ? 1 : pieces;
    size_t off = 0;
    for (size_t i = 0; i < n && off < m.bytes.size(); ++i) {
      size_t len = i + 1 == n ? m.bytes.size() - off : (m.bytes.size() + n - 1) / n;
      if (off + len > m.bytes.size()) len = m.bytes.size() - off;
      d = cls.feed(*st, m.client, reinterpret_cast<const uint8_t*>(m.bytes.data()) + off, static_cast<uint32_t>(len));
      off += len;
      if (d.kind != Decision::kPending) return d;
    }
  }
  return cls.finish(*st);
}

std::string describe(const Decision& d) {
  const char* kinds[] = {"pending", "decided", "gave-up"};
  return std::string(kinds[d.kind]) + " " + app_proto_name(d.app_proto) + (d.certain ? " certain" : " unsure");
}

}  // namespace

TEST_CASE("every protocol has a fixture and a wire name", "[classify]") {
  std::set<uint16_t> covered;
  for (const Fixture& f : fixtures()) covered.insert(static_cast<uint16_t>(f.proto));
  for (uint16_t id = 1; id < kAppProtoBuiltinEnd; ++id) {
    INFO("protocol " << app_proto_name(id));
    CHECK(covered.count(id) == 1);
    CHECK(is_valid_app_proto_name(app_proto_name(id)));
    CHECK(proto_info(id).probe != nullptr);
  }
  CHECK(kAppProtoBuiltinEnd - 1 >= 40);
  CHECK(std::string(app_proto_name(0)) == "unknown");
  CHECK(std::string(app_proto_name(1)) == "http");
  CHECK(std::string(app_proto_name(2)) == "tls");
  CHECK(std::string(app_proto_name(3)) == "dns");
  CHECK(std::string(app_proto_name(60000)) == "unknown");
}

TEST_CASE("fixtures classify on their usual port and on an odd port", "[classify]") {
  Classifier& cls = shared_classifier();
  REQUIRE(cls.ready());
  for (const Fixture& f : fixtures()) {
    for (uint16_t port : {f.port, kOddPort}) {
      Decision d = run(cls, f.transport, port, f.msgs);
      INFO(f.name << " on port " << port << ": " << describe(d));
      CHECK(d.kind == Decision::kDecided);
      CHECK(d.app_proto == static_cast<uint16_t>(f.proto));
      CHECK(d.certain == f.certain);
    }
  }
}

TEST_CASE("probes are disjoint: on each fixture only its own protocol says Certain", "[classify]") {
  for (const Fixture& f : fixtures()) {
    std::string buf[2];
    uint32_t wire[2] = {0, 0};
    for (const Msg& m : f.msgs) {
      const int d = m.client ? 0 : 1;
      if (f.transport == kTransportUdp) {
        if (buf[d].empty()) buf[d] = m.bytes;
      } else {
        buf[d] += m.bytes;
      }
    }
    for (int d = 0; d < 2; ++d) {
      wire[d] = static_cast<uint32_t>(buf[d].size());
      if (buf[d].size() > kClassifyPrefixBytes) buf[d].resize(kClassifyPrefixBytes);
    }
    ProbeInput in;
    in.cli = {reinterpret_cast<const uint8_t*>(buf[0].data()), static_cast<uint32_t>(buf[0].size())};
    in.srv = {reinterpret_cast<const uint8_t*>(buf[1].data()), static_cast<uint32_t>(buf[1].size())};
    in.cli_wire = wire[0];
    in.srv_wire = wire[1];
    in.transport = f.transport;
    in.server_spoke_first = !f.msgs[0].client;
    const uint8_t mask = f.transport == kTransportTcp ? 1 : 2;
    for (uint16_t id = 1; id < kAppProtoBuiltinEnd; ++id) {
      const ProtoInfo& info = proto_info(id);
      if (!(info.transports & mask)) continue;
      const Verdict v = info.probe(in, static_cast<AppProto>(id));
      INFO(f.name << " probed as " << app_proto_name(id) << ": " << static_cast<int>(v));
      if (id == static_cast<uint16_t>(f.proto)) {
        CHECK(v == (f.certain ? Verdict::kCertain : Verdict::kUnsure));
      } else {
        CHECK(v != Verdict::kCertain);
      }
    }
  }
}

TEST_CASE("protocols off their ports, as the brief names them", "[classify]") {
  Classifier& cls = shared_classifier();
  std::map<std::string, Fixture> by_name;
  for (Fixture& f : fixtures()) by_name[f.name] = f;
  struct Case {
    const char* fixture;
    uint16_t port;
  };
  for (Case k : {Case{"ssh", 443}, Case{"http", 8081}, Case{"tls", 5222}, Case{"mysql", 5432}, Case{"http", 22},
                 Case{"smtp", 21}, Case{"ftp", 25}, Case{"dns-udp", 5353}, Case{"quic", 53}, Case{"tls", 993}}) {
    const Fixture& f = by_name.at(k.fixture);
    Decision d = run(cls, f.transport, k.port, f.msgs);
    INFO(k.fixture << " on " << k.port << ": " << describe(d));
    CHECK(d.kind == Decision::kDecided);
    CHECK(d.app_proto == static_cast<uint16_t>(f.proto));
    CHECK(d.certain);
  }
}

TEST_CASE("the port alone never decides", "[classify]") {
  Classifier& cls = shared_classifier();
  auto st = std::make_unique<ClassifyState>();
  for (uint16_t port : {80, 443, 22, 53, 25, 3306}) {
    for (uint8_t t : {kTransportTcp, kTransportUdp}) {
      cls.init(*st, t, 40000, port);
      Decision d = cls.finish(*st);
      CHECK(d.kind == Decision::kGaveUp);
      CHECK(d.app_proto == 0);
    }
  }
  // Bytes that are no protocol, to port 80.
  Decision d = run(cls, kTransportTcp, 80, {c("hello there, this is not http\r\n"), s("nor is this\r\n")});
  CHECK(d.kind == Decision::kGaveUp);
}

TEST_CASE("random bytes are unknown", "[classify]") {
  Classifier& cls = shared_classifier();
  std::mt19937 rng(20261128);
  const uint16_t ports[] = {80, 443, 53, 22, 123, 161, 445, 5060, 1194, 51820, 502, 1080, kOddPort};
  int decided = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint8_t t = (i & 1) ? kTransportUdp : kTransportTcp;
    std::vector<Msg> msgs;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      std::string b(1 + rng() % 600, '\0');
      for (char& ch : b) ch = static_cast<char>(rng());
      msgs.push_back({k % 2 == 0, b});
    }
    Decision d = run(cls, t, ports[rng() % std::size(ports)], msgs);
    INFO("iteration " << i << ": " << describe(d));
    CHECK_FALSE(d.certain);
    if (d.kind == Decision::kDecided) {
      ++decided;
      WARN("random bytes decided: " << describe(d) << " transport " << int(t) << " first " << msgs[0].bytes.size() << " B");
    }
  }
  CHECK(decided == 0);
}

TEST_CASE("every truncation is safe: never a wrong protocol with certain=true", "[classify]") {
  Classifier& cls = shared_classifier();
  for (const Fixture& f : fixtures()) {
    size_t total = 0;
    for (const Msg& m : f.msgs) total += m.bytes.size();
    for (size_t cut = 0; cut < total; ++cut) {
      std::vector<Msg> part;
      size_t left = cut;
      for (const Msg& m : f.msgs) {
        if (left == 0) break;
        part.push_back({m.client, m.bytes.substr(0, left)});
        left -= part.back().bytes.size();
      }
      for (uint16_t port : {f.port, kOddPort}) {
        Decision d = run(cls, f.transport, port, part);
        INFO(f.name << " cut at " << cut << " port " << port << ": " << describe(d));
        if (d.kind == Decision::kDecided && d.certain) CHECK(d.app_proto == static_cast<uint16_t>(f.proto));
      }
    }
  }
}

TEST_CASE("each fixture cut at every length, fed with the rest: same answer", "[classify]") {
  // The first message arrives in two feeds, split at every offset (a segment boundary).
  Classifier& cls = shared_classifier();
  for (const Fixture& f : fixtures()) {
    if (f.transport != kTransportTcp) continue;
    const std::string& first = f.msgs[0].bytes;
    for (size_t at = 1; at < first.size(); ++at) {
      std::vector<Msg> msgs = f.msgs;
      msgs[0].bytes = first.substr(0, at);
      msgs.insert(msgs.begin() + 1, Msg{f.msgs[0].client, first.substr(at)});
      Decision d = run(cls, kTransportTcp, f.port, msgs);
      INFO(f.name << " first message split at " << at << ": " << describe(d));
      CHECK(d.app_proto == static_cast<uint16_t>(f.proto));
    }
  }
}

TEST_CASE("mutated fixtures never crash and stay within the prefix", "[classify]") {
  // A poor man's fuzzer over every probe (run it under -Db_sanitize=address,undefined).
  Classifier& cls = shared_classifier();
  std::mt19937 rng(1815);
  const std::vector<Fixture> fx = fixtures();
  for (int i = 0; i < 20000; ++i) {
    const Fixture& f = fx[rng() % fx.size()];
    std::vector<Msg> msgs = f.msgs;
    for (Msg& m : msgs) {
      const int edits = static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !m.bytes.empty(); ++e) {
        const size_t at = rng() % m.bytes.size();
        switch (rng() % 4) {
          case 0: m.bytes[at] = static_cast<char>(rng()); break;
          case 1: m.bytes[at] = static_cast<char>(m.bytes[at] ^ (1 << (rng() % 8))); break;
          case 2: m.bytes.erase(at, 1 + rng() % 8); break;
          default: m.bytes.insert(at, std::string(1 + rng() % 4, static_cast<char>(rng()))); break;
        }
      }
    }
    Decision d = run(cls, f.transport, (i & 1) ? f.port : kOddPort, msgs);
    CHECK(d.kind != Decision::kPending);
  }
}

TEST_CASE("feed split across several calls", "[classify]") {
  Classifier& cls = shared_classifier();
  for (const Fixture& f : fixtures()) {
    if (f.transport != kTransportTcp || f.msgs.size() > 2) continue;
    for (size_t pieces : {2u, 3u}) {
      Decision d = run(cls, kTransportTcp, kOddPort, f.msgs, pieces);
      INFO(f.name << " in " << pieces << " pieces: " << describe(d));
      CHECK(d.app_proto == static_cast<uint16_t>(f.proto));
    }
  }
}

TEST_CASE("decision rules: wait for the other side, tie-break by port", "[classify]") {
  Classifier& cls = shared_classifier();
  auto st = std::make_unique<ClassifyState>();
  // A bare 220 greeting is FTP or SMTP: wait for the client.
  cls.init(*st, kTransportTcp, 40000, 2525);
  const std::string g = "220 Welcome\r\n";
  Decision d = cls.feed(*st, false, reinterpret_cast<const uint8_t*>(g.data()), static_cast<uint32_t>(g.size()));
  CHECK(d.kind == Decision::kPending);
  // Nothing more: at the end the port breaks the FTP/SMTP tie (2525 is an SMTP port)...
  d = cls.finish(*st);
  CHECK(d.kind == Decision::kDecided);
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kSmtp));
  CHECK_FALSE(d.certain);
  // ...and on a port neither uses it stays unknown.
  cls.init(*st, kTransportTcp, 40000, kOddPort);
  cls.feed(*st, false, reinterpret_cast<const uint8_t*>(g.data()), static_cast<uint32_t>(g.size()));
  d = cls.finish(*st);
  CHECK(d.kind == Decision::kGaveUp);
  // The client's command settles it whatever the port.
  d = run(cls, kTransportTcp, 25, {s(g), c("USER bob\r\n")});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kFtp));
  CHECK(d.certain);
  // After the decision further feeds change nothing.
  cls.init(*st, kTransportTcp, 40000, 80);
  const std::string get = "GET / HTTP/1.1\r\n";
  d = cls.feed(*st, true, reinterpret_cast<const uint8_t*>(get.data()), static_cast<uint32_t>(get.size()));
  REQUIRE(d.kind == Decision::kDecided);
  const std::string junk = "SSH-2.0-x\r\n";
  Decision d2 = cls.feed(*st, false, reinterpret_cast<const uint8_t*>(junk.data()), static_cast<uint32_t>(junk.size()));
  CHECK(d2.app_proto == d.app_proto);
  // The budget: 4 packets each way with no candidate gives up without finish().
  cls.init(*st, kTransportTcp, 40000, 80);
  std::string noise(40, '\x01');
  for (int i = 0; i < 8 && d.kind != Decision::kGaveUp; ++i) {
    d = cls.feed(*st, i % 2 == 0, reinterpret_cast<const uint8_t*>(noise.data()), static_cast<uint32_t>(noise.size()));
  }
  CHECK(d.kind == Decision::kGaveUp);
  // A protocol other than TCP/UDP is given up at init.
  cls.init(*st, 132, 1, 2);
  CHECK(cls.finish(*st).kind == Decision::kGaveUp);
}

namespace {
// One flow, messages fed as given, with the orientation flagged as a guess (or not).
Decision run_guessed(Classifier& cls, uint8_t transport, uint16_t client_port, uint16_t server_port,
                     const std::vector<Msg>& msgs, bool guessed = true) {
  auto st = std::make_unique<ClassifyState>();
  cls.init(*st, transport, client_port, server_port, guessed);
  Decision d;
  for (const Msg& m : msgs) {
    d = cls.feed(*st, m.client, reinterpret_cast<const uint8_t*>(m.bytes.data()), static_cast<uint32_t>(m.bytes.size()));
    if (d.kind != Decision::kPending) return d;
  }
  return cls.finish(*st);
}
Msg swapped(const Msg& m) { return {!m.client, m.bytes}; }
}  // namespace

namespace {
// Arkime's socks5-reverse.pcap (10.0.0.1:54263 -> 10.0.0.2:8855, SYN from 10.0.0.1), in TCP
// roles: the connecting bot says 6 bytes of its own, then the side it dialled opens a SOCKS5
// exchange (greeting, CONNECT 74.125.131.103:80 at once), the bot answers as the proxy, and
// HTTP runs through the tunnel.
std::vector<Msg> socks5_reverse() {
  return {c(H("4e 5a 8d 08 87 4e")), s(H("05 01 00")), s(H("05 01 00 01 4a 7d 83 67 00 50")),
          c(H("05 00")), c(H("05 00 00 01 4a 7d 83 67 00 50")),
          s("GET /search?q=flowscribe HTTP/1.1\r\nHost: www.google.com\r\nUser-Agent: x\r\n\r\n"),
          c("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")};
}
}  // namespace

TEST_CASE("reverse SOCKS5 after a handshake: the proxy's own bytes before its selection", "[classify]") {
  Classifier cls(shared_db());
  const uint64_t reversed_before = cls.counters().classify_reversed.get();
  Decision d = run_guessed(cls, kTransportTcp, 54263, 8855, socks5_reverse(), false);
  INFO(describe(d));
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kSocks));
  CHECK(d.certain);
  CHECK(d.reversed);
  CHECK(cls.counters().classify_reversed.get() == reversed_before + 1);
  // The same bytes with a guessed orientation (midstream): named reversed as well.
  d = run_guessed(cls, kTransportTcp, 54263, 8855, socks5_reverse(), true);
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kSocks));
  CHECK(d.reversed);

  // Every truncation of the byte stream (messages kept in order, the last one cut): never a
  // wrong name; SOCKS once the selection is in.
  std::vector<Msg> all = socks5_reverse();
  size_t total = 0;
  for (const Msg& m : all) total += m.bytes.size();
  for (size_t cut = 0; cut <= total; ++cut) {
    std::vector<Msg> msgs;
    size_t left = cut;
    for (const Msg& m : all) {
      if (left == 0) break;
      const size_t n = std::min(left, m.bytes.size());
      msgs.push_back({m.client, m.bytes.substr(0, n)});
      left -= n;
    }
    d = run_guessed(cls, kTransportTcp, 54263, 8855, msgs, false);
    INFO("cut " << cut << ": " << describe(d));
    CHECK((d.kind != Decision::kDecided || d.app_proto == static_cast<uint16_t>(AppProto::kSocks)));
    // Through the selection: 6 + 3 + 10 + 2 bytes.
    if (cut >= 21) {
      CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kSocks));
      CHECK(d.reversed);
    }
    if (cut < 20) CHECK(d.kind != Decision::kDecided);
  }

  // What does not pass: the lead is bounded, the request must be whole and well formed, the
  // selection must be "no authentication" and offered.
  auto with = [&](size_t i, std::string b) {
    std::vector<Msg> m = socks5_reverse();
    m[i].bytes = std::move(b);
    return run_guessed(cls, kTransportTcp, 54263, 8855, m, false);
  };
  const auto socks = static_cast<uint16_t>(AppProto::kSocks);
  CHECK(with(0, std::string(16, 'j')).app_proto == socks);  // 16 bytes of its own: the bound
  CHECK(with(0, std::string(17, 'j')).app_proto != socks);
  CHECK(with(2, H("05 01 01 01 4a 7d 83 67 00 50")).app_proto != socks);  // RSV not 0
  CHECK(with(2, H("05 04 00 01 4a 7d 83 67 00 50")).app_proto != socks);  // CMD 4
  CHECK(with(2, H("05 01 00 02 4a 7d 83 67 00 50")).app_proto != socks);  // ATYP 2
  CHECK(with(2, H("05 01 00 03 00 00 50")).app_proto != socks);           // empty name
  CHECK(with(1, H("05 01 02")).app_proto != socks);                       // no "none" offered
  {
    // Another method chosen (the reply, which begins 05 00 too, left out).
    std::vector<Msg> m = socks5_reverse();
    m[3].bytes = H("05 02");
    m.erase(m.begin() + 4);
    CHECK(run_guessed(cls, kTransportTcp, 54263, 8855, m, false).app_proto != socks);
  }
  {
    // The request cut short (the tunnel bytes follow in other packets): not enough.
    std::vector<Msg> m = {c(H("4e 5a 8d 08 87 4e")), s(H("05 01 00 05 01 00 01 4a 7d 83")), c(H("05 00"))};
    CHECK(run_guessed(cls, kTransportTcp, 54263, 8855, m, false).app_proto != socks);
  }
  // Forward SOCKS is unchanged: named as given, never reversed.
  d = run_guessed(cls, kTransportTcp, 40000, 1080,
                  {c(H("05 01 00")), s(H("05 00")), c(H("05 01 00 01 4a 7d 83 67 00 50")),
                   s(H("05 00 00 01 4a 7d 83 67 00 50"))}, false);
  CHECK(d.app_proto == socks);
  CHECK_FALSE(d.reversed);
}

TEST_CASE("guessed orientation: bytes that fit only the other way round", "[classify]") {
  Classifier cls(shared_db());
  std::map<std::string, Fixture> by_name;
  for (Fixture& f : fixtures()) by_name[f.name] = f;
  // A DNS answer whose question was not captured, sent by the side the port made the server.
  const Msg answer = by_name.at("dns-udp").msgs[1];
  Decision d = run_guessed(cls, kTransportUdp, 40000, 53, {answer});
  CHECK(d.kind == Decision::kDecided);
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kDns));
  CHECK(d.certain);
  CHECK(d.reversed);
  // With a known orientation the swapped view is the last try: nothing before finish().
  {
    auto st = std::make_unique<ClassifyState>();
    cls.init(*st, kTransportUdp, 40000, 53, false);
    d = cls.feed(*st, false, reinterpret_cast<const uint8_t*>(answer.bytes.data()), static_cast<uint32_t>(answer.bytes.size()));
    CHECK(d.kind == Decision::kPending);
    d = cls.finish(*st);
    CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kDns));
    CHECK(d.reversed);
  }
  // A TCP client that speaks as the application's server after a handshake (a Modbus device
  // that dials out, then answers the station's requests): named at the end, reversed.
  d = run_guessed(cls, kTransportTcp, 502, 49800,
                  {c(H("00 09 00 00 00 03 01 83 02")), s(H("00 0a 00 00 00 06 01 03 00 00 00 02")),
                   c(H("00 0a 00 00 00 07 01 03 04 00 2a 00 2b"))}, false);
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kModbus));
  CHECK(d.reversed);
  // An SNMP GetResponse alone (RFC 3416 §4.2.4).
  d = run_guessed(cls, kTransportUdp, 40000, 161, {by_name.at("snmp").msgs[1]});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kSnmp));
  CHECK(d.reversed);
  // TCP picked up midstream with the client mis-guessed: every TCP fixture, roles swapped,
  // still gets its own name, on its port and on an odd one.
  for (const Fixture& f : fixtures()) {
    if (f.transport != kTransportTcp) continue;
    std::vector<Msg> msgs;
    for (const Msg& m : f.msgs) msgs.push_back(swapped(m));
    for (uint16_t port : {f.port, kOddPort}) {
      d = run_guessed(cls, kTransportTcp, port, 40000, msgs);
      INFO(f.name << " swapped, server port " << port << ": " << describe(d));
      CHECK(d.app_proto == static_cast<uint16_t>(f.proto));
      CHECK(d.certain == f.certain);
    }
    // Right way round: never reversed.
    d = run_guessed(cls, kTransportTcp, 40000, f.port, f.msgs);
    INFO(f.name << " as given: " << describe(d));
    CHECK(d.app_proto == static_cast<uint16_t>(f.proto));
    CHECK_FALSE(d.reversed);
  }
  // (Symmetric protocols - SSH, VNC, BGP, ... - fit either way and are not "reversed".) An HTTP
  // response first from the guessed client: reversed.
  d = run_guessed(cls, kTransportTcp, 80, 40000, {swapped(by_name.at("http").msgs[1]), swapped(by_name.at("http").msgs[0])});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(d.reversed);
  CHECK(cls.counters().classify_reversed.get() >= 3);
}

TEST_CASE("DNS relatives told apart by their headers, the port only between Unsure", "[classify]") {
  Classifier& cls = shared_classifier();
  // An LLMNR answer seen without its query (RFC 4795 §2.1.1: Z bits clear, no RA): LLMNR or an
  // authoritative DNS answer for a one-label name. The port breaks the tie; elsewhere unknown.
  const std::string a = H("6d 0f 80 00 00 01 00 01 00 00 00 00") + dns_name({"printer"}) + H("00 01 00 01") +
                        H("c0 0c 00 01 00 01 00 00 00 1e 00 04 c0 a8 01 21");
  Decision d = run(cls, kTransportUdp, 5355, {c(a)});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kLlmnr));
  CHECK_FALSE(d.certain);
  d = run(cls, kTransportUdp, 53, {c(a)});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kDns));
  CHECK_FALSE(d.certain);
  CHECK(run(cls, kTransportUdp, kOddPort, {c(a)}).kind == Decision::kGaveUp);
  // A recursive resolver's answer (RA set) for the same name is DNS wherever it is.
  std::string ra = a;
  ra[3] = static_cast<char>(0x80);
  d = run(cls, kTransportUdp, 5355, {c(ra)});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kDns));
  CHECK(d.certain);
  // The root zone's NS query (no labels) is DNS, not LLMNR.
  const std::string root = H("21 07 00 00 00 01 00 00 00 00 00 00 00 00 02 00 01");
  d = run(cls, kTransportUdp, kOddPort, {c(root)});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kDns));
}

TEST_CASE("NTP, ONC RPC and PTP datagrams that share a shape", "[classify]") {
  Classifier& cls = shared_classifier();
  // An NTPv4 client at start-up (RFC 5905 §7.4: stratum 0, kiss code INIT as reference id)
  // whose first 24 bytes also read as an RPC call: xid, msg_type 0 (root delay 0),
  // rpcvers 2 (root dispersion 2/65536 s), program "INIT", version 0, procedure 0, two
  // AUTH_NONE bodies.
  const std::string ntp = H("e3 00 06 e8 00 00 00 00 00 00 00 02") + S("INIT") + z(24) + H("e9 0f 5a 4b 1c 2d 3e 4f");
  REQUIRE(ntp.size() == 48);
  Decision d = run(cls, kTransportUdp, 123, {c(ntp)});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kNtp));
  CHECK_FALSE(d.certain);
  d = run(cls, kTransportUdp, kOddPort, {c(ntp)});
  CHECK_FALSE(d.certain);
  CHECK(d.app_proto != static_cast<uint16_t>(AppProto::kRpc));
  // The server's answer echoing the transmit timestamp settles it anywhere.
  const std::string answer = H("24 02 06 e8 00 00 00 10 00 00 00 20") + S("GPS") + z(1) + z(8) +
                             H("e9 0f 5a 4b 1c 2d 3e 4f") + z(8) + H("e9 0f 5a 4b 2c 2d 3e 4f");
  d = run(cls, kTransportUdp, kOddPort, {c(ntp), s(answer)});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kNtp));
  CHECK(d.certain);
  // An RPC call over UDP without its reply is Unsure (decided when alone), with it Certain.
  const std::string getport = rpc_call(0x2468ace0, 100000, 2, 3, be32(0) + be32(0), be32(100005) + be32(3) + be32(17) + be32(0));
  d = run(cls, kTransportUdp, 111, {c(getport)});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kRpc));
  CHECK_FALSE(d.certain);
  d = run(cls, kTransportUdp, kOddPort, {c(getport), s(rpc_reply(0x2468ace0, be32(635)))});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kRpc));
  CHECK(d.certain);
  // PTPv2 Announce (IEEE 1588-2008 §13.5, 64 bytes): byte 0 reads as NTP version 1, mode 3,
  // but NTPv1-v3 have no extension fields, so 64 bytes is no NTP length.
  std::string announce = H("0b 02 00 40 00 00 00 08") + z(8) + z(4) + H("00 1b 19 ff fe 00 00 01 00 01") +
                         H("00 2a 05 01") + z(10) + H("00 25 00 80 f8 fe ff ff 80 00 1b 19 ff fe 00 00 01 00 00 a0");
  REQUIRE(announce.size() == 64);
  d = run(cls, kTransportUdp, 320, {c(announce)});
  CHECK(d.kind == Decision::kGaveUp);
  // NTPv4 with an extension field (RFC 7822) keeps its longer length.
  std::string ext = ntp;
  ext[0] = static_cast<char>(0x23);
  ext += H("01 04 00 10") + z(12);
  d = run(cls, kTransportUdp, 123, {c(ext)});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kNtp));
}

TEST_CASE("HTTP: what the status line settles and what it does not", "[classify]") {
  Classifier& cls = shared_classifier();
  std::map<std::string, Fixture> by_name;
  for (Fixture& f : fixtures()) by_name[f.name] = f;
  // A TLS ClientHello sent to a plain HTTP server that answers 400: the client's bytes are
  // TLS, so the flow is TLS.
  Decision d = run(cls, kTransportTcp, 443, {c(tls_client_hello()), s("HTTP/1.1 400 Bad Request\r\n\r\n")});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kTls));
  // A request line with junk before it but an HTTP version at its end, answered 200.
  d = run(cls, kTransportTcp, kOddPort, {c(H("dd 00 00 00") + " GET /ncsi.txt HTTP/1.1\r\nHost: example.com\r\n\r\n"),
                                          s("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kHttp));
  CHECK(d.certain);
  // A two-token line without a path is no HTTP/0.9 request, and text alone no HTTP.
  d = run(cls, kTransportTcp, kOddPort, {c("GET key\r\n"), s("value\r\n")});
  CHECK(d.kind == Decision::kGaveUp);
  // A request split over segments at every offset (covered generally below) and a status
  // line alone seen first, before the request.
  d = run(cls, kTransportTcp, kOddPort, {s("HTTP/1.0 200 OK\r\n\r\n")});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kHttp));
  // RTSP and SIP status lines are not HTTP ones.
  d = run(cls, kTransportTcp, kOddPort, by_name.at("rtsp").msgs);
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kRtsp));
}

TEST_CASE("mail family: greetings late, midstream and one-sided", "[classify]") {
  Classifier& cls = shared_classifier();
  // An SMTP greeting with a client that sent nothing yet: FTP or SMTP (unchanged).
  Decision d = run(cls, kTransportTcp, kOddPort, {s("220 ready\r\n")});
  CHECK(d.kind == Decision::kGaveUp);
  // One FTP command alone is Unsure; USER alone (FTP or POP3) nothing.
  d = run(cls, kTransportTcp, kOddPort, {c("PASV\r\n")});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kFtp));
  CHECK_FALSE(d.certain);
  CHECK(run(cls, kTransportTcp, kOddPort, {c("USER bob\r\n")}).kind == Decision::kGaveUp);
  // A numbered reply to an SMTP command picked up midstream.
  d = run(cls, kTransportTcp, kOddPort, {c("MAIL FROM:<alice@example.org>\r\n"), s("250 2.1.0 Ok\r\n")});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kSmtp));
  CHECK(d.certain);
  // An FTP command answered by an SMTP-style refusal is not FTP only because of the digits:
  // the reply has to follow the client (a server that spoke first greets, it does not reply).
  d = run(cls, kTransportTcp, kOddPort, {s("250 hello\r\n"), c("PASV\r\n")});
  CHECK_FALSE(d.certain);
}

TEST_CASE("a UDP datagram cut by the capture keeps its wire length", "[classify]") {
  Classifier& cls = shared_classifier();
  auto st = std::make_unique<ClassifyState>();
  const std::string init = H("01 00 00 00 5e 7a 11 03") + fill(140, '\x3c');
  cls.init(*st, kTransportUdp, 40000, kOddPort);
  Decision d = cls.feed(*st, true, reinterpret_cast<const uint8_t*>(init.data()), 96, 148);
  CHECK(d.kind == Decision::kDecided);
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kWireguard));
  cls.init(*st, kTransportUdp, 40000, kOddPort);
  d = cls.feed(*st, true, reinterpret_cast<const uint8_t*>(init.data()), 96);  // looks like 96 B
  CHECK(cls.finish(*st).kind == Decision::kGaveUp);
}

TEST_CASE("DNP3 CRC check value", "[classify]") {
  const std::string v = "123456789";
  CHECK(probes::dnp3_crc(reinterpret_cast<const uint8_t*>(v.data()), 9) == 0xea82);
}

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / (S("fs_classify_") + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}
}  // namespace

TEST_CASE("user signatures: protocols by name, decided by the user's word", "[classify]") {
  const std::string path = write_temp("good.sig",
                                      "# lab protocols\n"
                                      "protocol=myproto transport=tcp direction=client depth=64 pattern=^HELLO\\x20\n"
                                      "\n"
                                      "protocol=acme-telemetry transport=udp depth=8 pattern=^\\xac\\x3e\\x01\r\n"
                                      "protocol=myproto direction=server nocase=yes pattern=^welcome to myproto\n"
                                      "protocol=http transport=tcp direction=client pattern=^BREW \n");
  auto db = compile_classifier(path);
  REQUIRE(db.ok());
  CHECK((*db)->user_signature_count() == 4);
  Classifier cls(*db);
  REQUIRE(cls.ready());
  Decision d = run(cls, kTransportTcp, 9999, {c("HELLO world\r\n")});
  CHECK(d.kind == Decision::kDecided);
  CHECK(d.certain);
  CHECK(std::string(app_proto_name(d.app_proto)) == "myproto");
  CHECK(d.app_proto >= kUserAppProtoBase);
  d = run(cls, kTransportTcp, 9999, {s("WELCOME TO MYPROTO v2\r\n")});
  CHECK(std::string(app_proto_name(d.app_proto)) == "myproto");
  d = run(cls, kTransportUdp, 9999, {c(H("ac 3e 01 00 00"))});
  CHECK(std::string(app_proto_name(d.app_proto)) == "acme-telemetry");
  d = run(cls, kTransportTcp, 9999, {c("BREW /pot-1 HTCPCP/1.0\r\n")});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kHttp));
  // Transport and direction are honoured: HELLO from the server is not myproto.
  d = run(cls, kTransportTcp, 9999, {s("HELLO world\r\n")});
  CHECK(d.kind == Decision::kGaveUp);
  d = run(cls, kTransportUdp, 9999, {c("HELLO world\r\n")});
  CHECK(d.kind == Decision::kGaveUp);
  CHECK(cls.counters().classify_user_signature_matches.get() == 4);
  // Built-ins still work next to user signatures.
  d = run(cls, kTransportTcp, 9999, {c("GET / HTTP/1.1\r\n\r\n")});
  CHECK(d.app_proto == static_cast<uint16_t>(AppProto::kHttp));
  // Registering again (a second compile) gives the same ids.
  const uint16_t id = find_app_proto("myproto");
  auto db2 = compile_classifier(path);
  REQUIRE(db2.ok());
  CHECK(find_app_proto("myproto") == id);
  std::filesystem::remove(path);
}

TEST_CASE("user signatures: bad lines name the file, the line and the reason", "[classify]") {
  struct Bad {
    const char* text;
    const char* expect;
  };
  for (Bad b : {Bad{"protocol=ok pattern=^abc\n\nprotocol=broken pattern=^(abc\n", ":3: pattern rejected by Hyperscan: "},
                Bad{"protocol=x pattern=a{99999}\n", ":1: pattern rejected by Hyperscan"},
                Bad{"protocol=x pattern=^\\bfoo(?=bar)\n", ":1: pattern rejected by Hyperscan"},
                Bad{"protocol=x pattern=.*\n", ":1: pattern rejected by Hyperscan"},
                Bad{"protocol=x colour=blue pattern=^a\n", ":1: unknown key 'colour'"},
                Bad{"# c\nprotocol=x depth=0 pattern=^a\n", ":2: bad depth '0' (1-512)"},
                Bad{"protocol=x depth=513 pattern=^a\n", ":1: bad depth '513'"},
                Bad{"protocol=x transport=sctp pattern=^a\n", ":1: bad transport 'sctp'"},
                Bad{"protocol=x direction=up pattern=^a\n", ":1: bad direction 'up'"},
                Bad{"protocol=My_Proto pattern=^a\n", ":1: invalid protocol name 'My_Proto'"},
                Bad{"protocol=unknown pattern=^a\n", ":1: protocol name 'unknown' is reserved"},
                Bad{"protocol=x\n", ":1: missing pattern="},
                Bad{"pattern=^a\n", ":1: missing protocol="},
                Bad{"protocol=x protocol=y pattern=^a\n", ":1: duplicate key 'protocol'"},
                Bad{"protocol=x pattern=\n", ":1: empty pattern"},
                Bad{"protocol=x garbage pattern=^a\n", ":1: expected key=value, got 'garbage'"}}) {
    const std::string path = write_temp("bad.sig", b.text);
    auto db = compile_classifier(path);
    INFO(b.text);
    REQUIRE_FALSE(db.ok());
    CHECK(db.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string msg(db.status().message());
    INFO(msg);
    CHECK(msg.find(path + b.expect) != std::string::npos);
    std::filesystem::remove(path);
  }
  // Hyperscan's own words reach the message.
  auto r = parse_signatures("protocol=x pattern=^(abc\n", "f.sig");
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("f.sig:1: pattern rejected by Hyperscan: Missing close parenthesis") == 0);
  auto missing = compile_classifier("/nonexistent/sigs.txt");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("state size and counters", "[classify]") {
  STATIC_REQUIRE(sizeof(ClassifyState) <= 1228);
  Classifier cls(shared_db());
  run(cls, kTransportTcp, 80, {c("GET / HTTP/1.1\r\n\r\n")});
  run(cls, kTransportTcp, 80, {c("zzzz")});
  const ClassifyCounters& k = cls.counters();
  CHECK(k.classify_flows.get() == 2);
  CHECK(k.classify_decided.get() == 1);
  CHECK(k.classify_gave_up.get() == 1);
  CHECK(k.classify_hs_matches.get() >= 1);
  CHECK(k.classify_probe_certain.get() >= 1);
  size_t n = 0;
  k.for_each([&](const CounterInfo& info, uint64_t) {
    CHECK(std::string(info.name).rfind("classify_", 0) == 0);
    ++n;
  });
  CHECK(n == ClassifyCounters::kCount);
}

// ---- violations: the other side's first message checked after a one-sided decision ---------------

// Feeds the messages like sensor/app_layer.cpp: to feed() until decided; then, when
// begin_verify() arms a check, the rest to verify() until it settles; the flow's end stops it.
struct Verdicts {
  Decision decision;
  bool armed = false;
  Verified verified = Verified::kPending;  // kPending: never armed
};
Verdicts run_verify(Classifier& cls, uint8_t transport, uint16_t port, const std::vector<Msg>& msgs,
                    bool guessed = false) {
  auto st = std::make_unique<ClassifyState>();
  cls.init(*st, transport, 40000, port, guessed);
  Verdicts v;
  for (const Msg& m : msgs) {
    const auto* p = reinterpret_cast<const uint8_t*>(m.bytes.data());
    const auto n = static_cast<uint32_t>(m.bytes.size());
    if (v.decision.kind == Decision::kPending) {
      v.decision = cls.feed(*st, m.client, p, n);
      if (v.decision.kind == Decision::kDecided) v.armed = cls.begin_verify(*st);
      if (v.decision.kind != Decision::kPending && !v.armed) return v;
    } else {
      v.verified = cls.verify(*st, m.client, p, n);
      if (v.verified != Verified::kPending) return v;
    }
  }
  if (v.decision.kind == Decision::kPending) v.decision = cls.finish(*st);
  if (v.armed && st->verifying()) v.verified = cls.verify_stop(*st);
  return v;
}

// The bytes one side of a fixture sends: TCP all its messages in order, UDP its first datagram.
std::string side_bytes(const Fixture& fx, bool client) {
  std::string out;
  for (const Msg& m : fx.msgs) {
    if (m.client != client) continue;
    out += m.bytes;
    if (fx.transport == kTransportUdp) break;
  }
  return out;
}

TEST_CASE("a probe family's memo follows its input", "[classify]") {
  // One ProbeInput reused for every protocol over every fixture, each side cut on its own at
  // several lengths: each verdict must be the one a fresh ProbeInput gives, so what the DNS
  // and mail families keep never outlives its bytes. Protocol by protocol over all inputs,
  // so that one family's probe meets a changed input with its own memo still in place.
  // The cuts of one fixture share its bytes, so that only the lengths tell them apart.
  struct Input {
    const std::string *cli, *srv;
    uint32_t cn, sn;
    uint8_t transport;
    bool server_first;
    std::string name;
  };
  std::vector<Input> inputs;
  std::deque<std::string> sides;  // stable addresses
  for (const Fixture& fx : fixtures()) {
    const std::string& cli = sides.emplace_back(side_bytes(fx, true));
    const std::string& srv = sides.emplace_back(side_bytes(fx, false));
    // Every pair of cuts twice: the client's cut changing fastest, then the server's.
    for (uint32_t k = 0; k < 32; ++k) {
      static constexpr uint32_t kCuts[4] = {0, 12, 40, 4096};
      const uint32_t fast = kCuts[k % 4], slow = kCuts[(k / 4) % 4];
      const uint32_t cc = k < 16 ? fast : slow, sc = k < 16 ? slow : fast;
      inputs.push_back({&cli, &srv, std::min<uint32_t>(cc, static_cast<uint32_t>(cli.size())),
                        std::min<uint32_t>(sc, static_cast<uint32_t>(srv.size())), fx.transport,
                        !fx.msgs[0].client, fx.name});
    }
  }
  auto fill = [](ProbeInput& in, const Input& x) {
    in.transport = x.transport;
    in.cli = Bytes{reinterpret_cast<const uint8_t*>(x.cli->data()), x.cn};
    in.srv = Bytes{reinterpret_cast<const uint8_t*>(x.srv->data()), x.sn};
    in.cli_wire = static_cast<uint32_t>(x.cli->size());  // the messages' whole length
    in.srv_wire = static_cast<uint32_t>(x.srv->size());
    in.server_spoke_first = x.server_first;
  };
  ProbeInput shared;
  size_t asked = 0, differ_from_previous = 0;
  for (uint16_t id = 1; id < kAppProtoBuiltinEnd; ++id) {
    const ProtoInfo& info = proto_info(id);
    if (info.probe == nullptr) continue;
    Verdict previous = Verdict::kNotMine;
    for (const Input& x : inputs) {
      fill(shared, x);
      ProbeInput fresh;
      fill(fresh, x);
      INFO(x.name << " cut " << x.cn << "/" << x.sn << " as " << app_proto_name(id));
      const Verdict v = info.probe(shared, static_cast<AppProto>(id));
      CHECK(v == info.probe(fresh, static_cast<AppProto>(id)));
      CHECK(v == info.probe(shared, static_cast<AppProto>(id)));  // asked again: the memo's answer
      differ_from_previous += v != previous;
      previous = v;
      ++asked;
    }
  }
  CHECK(asked > 1000);
  CHECK(differ_from_previous > 100);  // the inputs do change the answers
}

TEST_CASE("violations: each check accepts both sides of its protocol's fixtures", "[classify]") {
  size_t checked = 0;
  for (const Fixture& fx : fixtures()) {
    const ProtoInfo& info = proto_info(static_cast<uint16_t>(fx.proto));
    const uint8_t tmask = fx.transport == kTransportUdp ? kUdp : kTcp;
    if (info.verify == nullptr || !(info.verify_transports & tmask)) continue;
    const std::string cli = side_bytes(fx, true), srv = side_bytes(fx, false);
    ProbeInput in;
    in.transport = fx.transport;
    in.cli = Bytes{reinterpret_cast<const uint8_t*>(cli.data()), static_cast<uint32_t>(cli.size())};
    in.srv = Bytes{reinterpret_cast<const uint8_t*>(srv.data()), static_cast<uint32_t>(srv.size())};
    in.cli_wire = in.cli.n;
    in.srv_wire = in.srv.n;
    for (bool server : {false, true}) {
      if ((server ? srv : cli).empty()) continue;
      INFO(fx.name << (server ? " server" : " client"));
      CHECK(info.verify(in, server, fx.proto) == Check::kOk);
      ++checked;
      // Cut short, a TCP side waits for more or is already right; never a violation.
      const std::string whole = server ? srv : cli;
      if (fx.transport == kTransportTcp) {
        for (size_t k = 0; k < whole.size() && k < 64; ++k) {
          ProbeInput cut = in;
          (server ? cut.srv : cut.cli).n = static_cast<uint32_t>(k);
          INFO("cut at " << k);
          CHECK(info.verify(cut, server, fx.proto) != Check::kViolation);
        }
      }
    }
  }
  CHECK(checked >= 100);
}

TEST_CASE("violations: the protocols with a dissector or no sound check have none", "[classify]") {
  for (AppProto p : {AppProto::kHttp, AppProto::kTls, AppProto::kDns, AppProto::kMdns, AppProto::kLlmnr,
                     AppProto::kTelnet, AppProto::kSyslog, AppProto::kSocks, AppProto::kQuic, AppProto::kNbns,
                     AppProto::kIke, AppProto::kOpcua, AppProto::kAdb}) {
    INFO(app_proto_name(static_cast<uint16_t>(p)));
    CHECK(proto_info(static_cast<uint16_t>(p)).verify == nullptr);
  }
  // A TLS ServerHello or a DNS-over-TCP answer after a one-sided decision is not re-judged.
  Classifier cls(shared_db());
  for (const Fixture& fx : fixtures()) {
    if (fx.proto != AppProto::kTls && fx.proto != AppProto::kDns) continue;
    CHECK_FALSE(run_verify(cls, fx.transport, fx.port, fx.msgs).armed);
  }
}

TEST_CASE("violations: fixtures fed as flows are never dropped", "[classify]") {
  Classifier cls(shared_db());
  size_t armed = 0, ok = 0;
  for (const Fixture& fx : fixtures()) {
    INFO(fx.name);
    const Verdicts v = run_verify(cls, fx.transport, fx.port, fx.msgs);
    CHECK(v.decision.app_proto == static_cast<uint16_t>(fx.proto));
    CHECK(v.verified != Verified::kViolation);
    if (v.armed) ++armed;
    if (v.verified == Verified::kOk) ++ok;
  }
  // Most fixtures decide on their first message and are then checked by the second.
  INFO("armed " << armed << ", verified " << ok);
  CHECK(armed >= 40);
  CHECK(ok >= 30);
  CHECK(cls.counters().classify_violations.get() == 0);
  CHECK(cls.counters().classify_verify_waits.get() == armed);
}

TEST_CASE("violations: real servers' first answers keep the name", "[classify]") {
  // First messages from the swapped-port captures of tests/captures/proto/ (real OpenSSH 9.2,
  // MariaDB 10.11 with its client, PostgreSQL 15, Redis 7, Samba 4.17, net-snmp, TigerVNC).
  struct Real {
    const char* name;
    AppProto proto;
    uint8_t transport;
    uint16_t port;
    std::vector<Msg> msgs;
  };
  const std::string mysql_greeting = H(
      "64 00 00 00 0a 35 2e 35 2e 35 2d 31 30 2e 31 31 2e 31 39 2d 4d 61 72 69 61 44 42 2d 30 2b 64 65 62 31 32 75 31 00"
      "04 00 00 00 66 23 78 53 77 21 36 2d 00 fe f7 08 02 00 ff 81 15 00 00 00 00 00 00 1d 00 00 00 7e 55 6c 41 3d 4f 54"
      "39 5f 53 62 74 00 6d 79 73 71 6c 5f 6e 61 74 69 76 65 5f 70 61 73 73 77 6f 72 64 00");
  const std::string mysql_login = H("ce 00 00 01 84 a2 bf 00 00 00 00 10 21 00 00 00") + z(23);
  const std::string smb_neg_rsp = H("00 00 01 1c fe 53 4d 42 40 00 00 00 00 00 00 00 00 00 01 00 01 00 00 00") + z(40) +
                                  H("41 00 01 00 11 03 03 00");
  const std::string smb_neg =
      smb2(0, false, H("24 00 05 00 01 00 00 00 7f 00 00 00") + fill(16, '\x42') + z(8) + H("02 02 10 02 00 03 02 03 11 03"));
  const std::vector<Real> reals = {
      {"ssh", AppProto::kSsh, kTransportTcp, 443,
       {c("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\r\n"), s("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\r\n")}},
      {"mysql", AppProto::kMysql, kTransportTcp, 5432, {s(mysql_greeting), c(mysql_login)}},
      {"postgresql", AppProto::kPostgresql, kTransportTcp, 3306, {c(H("00 00 00 08 04 d2 16 2f")), s("N")}},
      {"redis", AppProto::kRedis, kTransportTcp, 6380,
       {c("*3\r\n$3\r\nSET\r\n$10\r\nflowscribe\r\n$5\r\nhello\r\n"), s("+OK\r\n")}},
      {"redis-get", AppProto::kRedis, kTransportTcp, 6380, {c("*2\r\n$3\r\nGET\r\n$10\r\nflowscribe\r\n"), s("$5\r\nhello\r\n")}},
      {"smb", AppProto::kSmb, kTransportTcp, 4445, {c(smb_neg), s(smb_neg_rsp)}},
      {"vnc", AppProto::kVnc, kTransportTcp, 5999, {s("RFB 003.008\n"), c("RFB 003.008\n")}},
      {"snmp", AppProto::kSnmp, kTransportUdp, 1161,
       {c(H("30 28 02 01 00 04 06 70 75 62 6c 69 63 a1 1b 02 04 25 20 5a 2e 02 01 00 02 01 00 30 0d 30 0b 06 07 2b 06 01 02 01 01 04 05 00")),
        s(H("30 37 02 01 00 04 06 70 75 62 6c 69 63 a2 2a 02 04 25 20 5a 2e 02 01 00 02 01 00 30 1c 30 1a 06 08 2b 06 01 02 01 01 04 00 04 0e") +
          "nobody@fs.test")}},
  };
  Classifier cls(shared_db());
  for (const Real& r : reals) {
    INFO(r.name);
    const Verdicts v = run_verify(cls, r.transport, r.port, r.msgs);
    CHECK(v.decision.app_proto == static_cast<uint16_t>(r.proto));
    CHECK(v.armed);
    CHECK(v.verified == Verified::kOk);
  }
  CHECK(cls.counters().classify_verified.get() == reals.size());
  CHECK(cls.counters().classify_violations.get() == 0);
}

TEST_CASE("violations: an answer that is no message of the protocol drops the name", "[classify]") {
  const std::string garbage = H("8f 3c 00 d1 7e 22 a9 10 5b 00 c4 ee 19 03 77 f0 2d 61 9a 00 00 13 be 42");
  struct Bad {
    const char* name;
    AppProto proto;
    uint8_t transport;
    std::vector<Msg> msgs;
  };
  const std::vector<Bad> bad = {
      // The brief's case: the client speaks SSH, the server answers with binary bytes.
      {"ssh-client, garbage server", AppProto::kSsh, kTransportTcp, {c("SSH-2.0-OpenSSH_9.6\r\n"), s(garbage)}},
      // The server's banner, then a client that speaks HTTP.
      {"ssh-server, http client", AppProto::kSsh, kTransportTcp,
       {s("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"), c("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}},
      {"redis, http answer", AppProto::kRedis, kTransportTcp,
       {c("*1\r\n$4\r\nPING\r\n"), s("HTTP/1.1 400 Bad Request\r\n\r\n")}},
      {"postgresql ssl request, garbage", AppProto::kPostgresql, kTransportTcp, {c(H("00 00 00 08 04 d2 16 2f")), s(garbage)}},
      {"mysql greeting, http client", AppProto::kMysql, kTransportTcp,
       {s(H("4a 00 00 00 0a") + cstr("8.0.36") + le32(9) + S("abcdefgh") + z(1) + H("ff ff 08 02 00 ff c3 15") + z(10) + S("ijklmnopqrst") + z(1) + cstr("caching_sha2_password")),
        c("GET / HTTP/1.1\r\n\r\n")}},
      {"smb negotiate, text answer", AppProto::kSmb, kTransportTcp,
       {c(smb2(0, false, H("24 00 01 00 01 00 00 00 7f 00 00 00") + fill(16, '\x42') + z(8) + H("02 02"))), s("220 ready\r\n")}},
      {"vnc server, tls client", AppProto::kVnc, kTransportTcp, {s("RFB 003.008\n"), c(tls_client_hello())}},
      {"bgp open, garbage", AppProto::kBgp, kTransportTcp, {c(fill(16, '\xff') + H("00 1d 01 04 fd e8 00 b4 c0 00 02 01 00")), s(garbage)}},
      {"snmp get, garbage datagram", AppProto::kSnmp, kTransportUdp,
       {c(H("30 28 02 01 00 04 06 70 75 62 6c 69 63 a1 1b 02 04 25 20 5a 2e 02 01 00 02 01 00 30 0d 30 0b 06 07 2b 06 01 02 01 01 04 05 00")),
        s(garbage)}},
      {"ftp client-only run, binary answer", AppProto::kFtp, kTransportTcp,
       {c("USER anonymous\r\n"), c("PASS guest@example.org\r\n"), c("SYST\r\n"), s(garbage)}},
  };
  Classifier cls(shared_db());
  for (const Bad& b : bad) {
    INFO(b.name);
    const Verdicts v = run_verify(cls, b.transport, kOddPort, b.msgs);
    CHECK(v.decision.app_proto == static_cast<uint16_t>(b.proto));
    CHECK(v.armed);
    CHECK(v.verified == Verified::kViolation);
  }
  CHECK(cls.counters().classify_violations.get() == bad.size());
  CHECK(cls.counters().classify_verified.get() == 0);
}

TEST_CASE("violations: when the check waits, gives up, or does not run", "[classify]") {
  Classifier cls(shared_db());
  const std::string banner = "SSH-2.0-OpenSSH_9.6\r\n";
  SECTION("fewer bytes than a line: wait, then judge") {
    auto st = std::make_unique<ClassifyState>();
    cls.init(*st, kTransportTcp, 40000, 443);
    auto feed = [&](bool client, const std::string& b) {
      return cls.feed(*st, client, reinterpret_cast<const uint8_t*>(b.data()), static_cast<uint32_t>(b.size()));
    };
    auto verify = [&](bool client, const std::string& b) {
      return cls.verify(*st, client, reinterpret_cast<const uint8_t*>(b.data()), static_cast<uint32_t>(b.size()));
    };
    REQUIRE(feed(true, banner).app_proto == static_cast<uint16_t>(AppProto::kSsh));
    REQUIRE(cls.begin_verify(*st));
    CHECK(verify(true, "more client bytes") == Verified::kPending);  // the side being checked is the other
    CHECK(verify(false, "SS") == Verified::kPending);
    CHECK(verify(false, "H-2.0-x\r\n") == Verified::kOk);
    CHECK_FALSE(st->verifying());
  }
  SECTION("a server's text lines before its banner (RFC 4253 §4.2) pass, a control byte does not") {
    CHECK(run_verify(cls, kTransportTcp, 443, {c(banner), s("Welcome to the gateway\r\nAuthorised use only\r\nSSH-2.0-x\r\n")}).verified ==
          Verified::kOk);
    CHECK(run_verify(cls, kTransportTcp, 443, {c(banner), s("Welcome\r\n\x01\x02\r\n")}).verified == Verified::kViolation);
  }
  SECTION("a silent other side: the budget ends the wait, the name stays") {
    std::vector<Msg> msgs{c(banner)};
    for (int i = 0; i < kClassifyVerifyMaxPackets; ++i) msgs.push_back(c(fill(100, '\x17')));
    const Verdicts v = run_verify(cls, kTransportTcp, 443, msgs);
    CHECK(v.decision.app_proto == static_cast<uint16_t>(AppProto::kSsh));
    CHECK(v.verified == Verified::kGaveUp);
    CHECK(cls.counters().classify_verify_gave_up.get() == 1);
  }
  SECTION("the flow ends first: verify_stop keeps the name") {
    const Verdicts v = run_verify(cls, kTransportTcp, 443, {c(banner)});
    CHECK(v.armed);
    CHECK(v.verified == Verified::kGaveUp);
  }
  SECTION("a TCP flow picked up midstream is not checked") {
    CHECK_FALSE(run_verify(cls, kTransportTcp, 443, {c(banner), s("garbage\x01")}, true).armed);
  }
  SECTION("a decision on both sides' bytes is not checked again") {
    const Verdicts v = run_verify(cls, kTransportTcp, 21, {s("220 ftp ready\r\n"), c("USER anonymous\r\n"), s("\x01\x02")});
    CHECK(v.decision.app_proto == static_cast<uint16_t>(AppProto::kFtp));
    CHECK_FALSE(v.armed);
  }
  SECTION("roles reversed: the check judges each prefix in the application's roles") {
    // An SNMP request from the side a guessed orientation called the server: named reversed at
    // once; the guessed client is the application's server, whose GetResponse passes and whose
    // garbage does not.
    std::map<std::string, Fixture> by_name;
    for (Fixture& f : fixtures()) by_name[f.name] = f;
    const std::string get = by_name.at("snmp").msgs[0].bytes, rsp = by_name.at("snmp").msgs[1].bytes;
    Verdicts v = run_verify(cls, kTransportUdp, 161, {s(get), c(rsp)}, true);
    CHECK(v.decision.app_proto == static_cast<uint16_t>(AppProto::kSnmp));
    CHECK(v.decision.reversed);
    CHECK(v.armed);
    CHECK(v.verified == Verified::kOk);
    v = run_verify(cls, kTransportUdp, 161, {s(get), c("\x17\x03\x03garbage")}, true);
    CHECK(v.decision.reversed);
    CHECK(v.verified == Verified::kViolation);
  }
  SECTION("nothing decided: nothing to check") {
    auto st = std::make_unique<ClassifyState>();
    cls.init(*st, kTransportTcp, 40000, 443);
    CHECK_FALSE(cls.begin_verify(*st));  // nothing decided yet either
  }
}

// ---- benchmark (hidden: ./classify_test "[.bench]") -------------------------------------------------

TEST_CASE("bench: classification cost per flow and per feed", "[.bench]") {
  Classifier cls(shared_db());
  const std::vector<Fixture> fx = fixtures();
  auto st = std::make_unique<ClassifyState>();
  constexpr int kRounds = 2000;
  uint64_t feeds = 0, flows = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  for (int r = 0; r < kRounds; ++r) {
    for (const Fixture& f : fx) {
      cls.init(*st, f.transport, 40000, f.port);
      Decision d;
      for (const Msg& m : f.msgs) {
        d = cls.feed(*st, m.client, reinterpret_cast<const uint8_t*>(m.bytes.data()), static_cast<uint32_t>(m.bytes.size()));
        ++feeds;
        if (d.kind != Decision::kPending) break;
      }
      if (d.kind == Decision::kPending) cls.finish(*st);
      ++flows;
    }
  }
  const uint64_t cycles = __rdtsc() - c0;
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  std::printf("classify: %zu fixtures x %d: %.0f ns/flow, %.0f ns/feed, %.0f TSC cycles/feed\n", fx.size(), kRounds,
              ns / static_cast<double>(flows), ns / static_cast<double>(feeds), static_cast<double>(cycles) / static_cast<double>(feeds));

  // Worst case: random bytes, every structural probe runs on every feed until the budget.
  std::mt19937 rng(7);
  std::string noise(1400, '\0');
  for (char& ch : noise) ch = static_cast<char>(rng());
  uint64_t nfeeds = 0;
  const auto t1 = std::chrono::steady_clock::now();
  for (int r = 0; r < 20000; ++r) {
    cls.init(*st, r & 1 ? kTransportUdp : kTransportTcp, 40000, 443);
    Decision d;
    for (int i = 0; i < 8 && d.kind == Decision::kPending; ++i) {
      d = cls.feed(*st, i % 2 == 0, reinterpret_cast<const uint8_t*>(noise.data()) + i * 7, 512);
      ++nfeeds;
    }
  }
  const double nns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t1).count();
  std::printf("classify: random 512 B feeds (no candidate): %.0f ns/feed\n", nns / static_cast<double>(nfeeds));
  // The same with the orientation a guess (UDP, midstream TCP): the probes also run swapped.
  uint64_t gfeeds = 0;
  const auto t2 = std::chrono::steady_clock::now();
  for (int r = 0; r < 20000; ++r) {
    cls.init(*st, r & 1 ? kTransportUdp : kTransportTcp, 40000, 443, true);
    Decision d;
    for (int i = 0; i < 8 && d.kind == Decision::kPending; ++i) {
      d = cls.feed(*st, i % 2 == 0, reinterpret_cast<const uint8_t*>(noise.data()) + i * 7, 512);
      ++gfeeds;
    }
  }
  const double gns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t2).count();
  std::printf("classify: random 512 B feeds, orientation guessed (swapped pass too): %.0f ns/feed\n",
              gns / static_cast<double>(gfeeds));

  // Block mode (rescan the prefix) vs stream mode (one stream per flow direction).
  std::vector<match::Pattern> pats;
  for (const BuiltinSignature& sig : builtin_signatures()) {
    if (!(sig.transports & 1) || !(sig.dirs & kFromClient)) continue;
    pats.push_back({sig.pattern, static_cast<unsigned>(sig.proto), HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH, sig.depth});
  }
  auto block = match::compile(pats, match::Mode::kBlock);
  auto stream = match::compile(pats, match::Mode::kStream);
  REQUIRE(block.ok());
  REQUIRE(stream.ok());
  match::Scratch scratch;
  REQUIRE(scratch.reserve(*block));
  REQUIRE(scratch.reserve(*stream));
  size_t stream_state = 0;
  hs_stream_size(stream->get(), &stream_state);
  const std::string req = fx[0].msgs[0].bytes + fx[0].msgs[0].bytes + fx[0].msgs[0].bytes;
  const uint32_t seg = 128;  // four feeds of 128 B: a 512 B prefix
  uint64_t hits = 0;
  auto on = [&hits](unsigned) {
    ++hits;
    return false;
  };
  const auto tb = std::chrono::steady_clock::now();
  for (int r = 0; r < 100000; ++r) {
    for (uint32_t len = seg; len <= 4 * seg; len += seg) {
      match::scan_block(*block, scratch, reinterpret_cast<const uint8_t*>(req.data()), len, on);
    }
  }
  const double block_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - tb).count() / 100000;
  auto cb = [](unsigned, unsigned long long, unsigned long long, unsigned, void*) { return 0; };
  const auto ts = std::chrono::steady_clock::now();
  for (int r = 0; r < 100000; ++r) {
    hs_stream_t* h = nullptr;
    hs_open_stream(stream->get(), 0, &h);
    for (uint32_t off = 0; off < 4 * seg; off += seg) {
      hs_scan_stream(h, req.data() + off, seg, 0, scratch.get(), cb, nullptr);
    }
    hs_close_stream(h, scratch.get(), cb, nullptr);
  }
  const double stream_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - ts).count() / 100000;
  uint32_t depth = 0;
  for (const match::Pattern& p : pats) depth = std::max<uint32_t>(depth, static_cast<uint32_t>(p.max_offset));
  const auto tc = std::chrono::steady_clock::now();
  for (int r = 0; r < 100000; ++r) {
    // What the classifier does: rescan only while the prefix is shorter than the deepest
    // pattern; with 128 B feeds that is the first feed only.
    for (uint32_t len = seg, prev = 0; len <= 4 * seg; prev = len, len += seg) {
      if (prev < depth) match::scan_block(*block, scratch, reinterpret_cast<const uint8_t*>(req.data()), std::min(len, depth), on);
    }
  }
  const double capped_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - tc).count() / 100000;
  std::printf("hyperscan, %zu tcp client patterns, 4 feeds of %u B: block rescan of the whole prefix %.0f ns/flow, "
              "block rescans only while under the deepest pattern (%u B) %.0f ns/flow, stream %.0f ns/flow (open+4 scans+close; "
              "stream state %zu B per direction, heap-allocated by hs_open_stream); block db %zu B, stream db %zu B\n",
              pats.size(), seg, block_ns, depth, capped_ns, stream_ns, stream_state, block->size_bytes(),
              stream->size_bytes());
  std::printf("sizeof(ClassifyState) = %zu B\n", sizeof(ClassifyState));
  CHECK(hits > 0);
}

// The protocol's probe on a TCP flow's first client and server bytes (all of them captured).
Verdict tcp_probe(AppProto p, const std::string& cli, const std::string& srv) {
  ProbeInput in;
  in.cli = {reinterpret_cast<const uint8_t*>(cli.data()), static_cast<uint32_t>(cli.size())};
  in.srv = {reinterpret_cast<const uint8_t*>(srv.data()), static_cast<uint32_t>(srv.size())};
  in.cli_wire = static_cast<uint32_t>(cli.size());
  in.srv_wire = static_cast<uint32_t>(srv.size());
  in.transport = kTransportTcp;
  return proto_info(static_cast<uint16_t>(p)).probe(in, p);
}

TEST_CASE("adb: both sides framed Certain, the host alone Unsure, a bad magic not ADB", "[classify]") {
  const std::string cnxn = H("43 4e 58 4e 01 00 00 01 00 00 10 00 06 00 00 00 32 02 00 00 bc b1 a7 b1") + "host::";
  const std::string stls = H("53 54 4c 53 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 ac ab b3 ac");
  auto probe = [](const std::string& cli, const std::string& srv) { return tcp_probe(AppProto::kAdb, cli, srv); };
  CHECK(probe(cnxn, stls) == Verdict::kCertain);
  CHECK(probe(cnxn, "") == Verdict::kUnsure);
  CHECK(probe(cnxn, "SSH-2.0-x\r\n") == Verdict::kUnsure);
  std::string bad = cnxn;
  bad[20] ^= 1;  // magic no longer command ^ 0xffffffff
  CHECK(probe(bad, stls) == Verdict::kNotMine);
  bad = cnxn;
  bad[15] = 0x01;  // data length past 1 MiB
  CHECK(probe(bad, stls) == Verdict::kNotMine);
  CHECK(probe(cnxn.substr(0, 23), stls) == Verdict::kNotMine);  // a header cut short
  CHECK(probe("000chost:version", "OKAY") == Verdict::kCertain);
  CHECK(probe("000chost:version", "FAIL0004oops") == Verdict::kCertain);
  CHECK(probe("000chost:version", "") == Verdict::kUnsure);
  CHECK(probe("0003sync", "OKAY") == Verdict::kNotMine);  // a length below any service name
  CHECK(probe("00g0host:version", "OKAY") == Verdict::kNotMine);
}

TEST_CASE("opcua: HEL and ACK Certain, one side alone Unsure, a bad header not OPC UA", "[classify]") {
  const std::string hel = H("48 45 4c 46 20 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00 01 88 13 00 00 ff ff ff ff");
  const std::string ack = H("41 43 4b 46 1c 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00 01 88 13 00 00");
  auto probe = [](const std::string& cli, const std::string& srv) { return tcp_probe(AppProto::kOpcua, cli, srv); };
  CHECK(probe(hel, ack) == Verdict::kCertain);
  CHECK(probe(hel, "") == Verdict::kUnsure);
  CHECK(probe(hel, "HTTP/1.1 200 OK\r\n") == Verdict::kUnsure);
  std::string bad = hel;
  bad[3] = 'C';  // HEL is never chunked
  CHECK(probe(bad, ack) == Verdict::kNotMine);
  bad = hel;
  bad[4] = 0x08;  // size below HEL's minimum
  CHECK(probe(bad, ack) == Verdict::kNotMine);
  CHECK(probe("MSGF" + std::string(20, '\0'), ack) == Verdict::kNotMine);  // MSG first: not a start
}

TEST_CASE("compiled databases come back from the cache only for the same inputs", "[hs_cache]") {
  namespace fsys = std::filesystem;
  char tmpl[] = "/tmp/fs-hscache-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const fsys::path dir = fsys::path(tmpl) / "cache";  // created by the first store
  std::vector<match::Pattern> a = {{"GET /", 1, HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH, 5},
                                   {"\\x16\\x03[\\x00-\\x04]", 2, HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH, 3}};
  std::vector<match::Pattern> b = a;
  b[0].max_offset = 6;  // one input differs: another database
  auto hits = [](const match::Database& db, const std::string& text) {
    match::Scratch s;
    REQUIRE(s.reserve(db));
    std::set<unsigned> ids;
    auto on = [&ids](unsigned id) {
      ids.insert(id);
      return false;
    };
    match::scan_block(db, s, reinterpret_cast<const uint8_t*>(text.data()),
                      static_cast<uint32_t>(text.size()), on);
    return ids;
  };
  auto files = [&]() {
    std::vector<fsys::path> out;
    if (fsys::exists(dir)) {
      for (const auto& e : fsys::directory_iterator(dir)) out.push_back(e.path());
    }
    return out;
  };

  match::set_cache_dir("");
  const match::CacheStats s0 = match::cache_stats();
  REQUIRE(match::compile(a, match::Mode::kBlock).ok());
  CHECK(files().empty());  // no directory set: nothing stored

  match::set_cache_dir(dir.string() + "/");
  auto first = match::compile(a, match::Mode::kBlock);
  REQUIRE(first.ok());
  REQUIRE(files().size() == 1);
  const fsys::path a_file = files()[0];
  CHECK(match::cache_stats().stored == s0.stored + 1);
  CHECK((fsys::status(dir).permissions() & fsys::perms::others_all) == fsys::perms::none);
  auto again = match::compile(a, match::Mode::kBlock);
  REQUIRE(again.ok());
  CHECK(match::cache_stats().loaded == s0.loaded + 1);
  CHECK(hits(*again, "GET /x") == std::set<unsigned>{1});
  CHECK(hits(*again, "\x16\x03\x01") == std::set<unsigned>{2});
  CHECK(hits(*again, "xGET /") == hits(*first, "xGET /"));  // max_offset kept: no match

  // The other pattern list and the other mode are other files, not a wrong load.
  REQUIRE(match::compile(b, match::Mode::kBlock).ok());
  REQUIRE(match::compile(a, match::Mode::kStream).ok());
  CHECK(files().size() == 3);
  CHECK(match::cache_stats().loaded == s0.loaded + 1);
  CHECK(hits(*match::compile(b, match::Mode::kBlock), "xGET /") == std::set<unsigned>{1});

  // A file cut short, or one holding another key under this name: compiled again, replaced.
  const auto loaded_before = match::cache_stats().loaded;
  for (int damage = 0; damage < 3; ++damage) {
    std::string body;
    {
      std::ifstream in(a_file, std::ios::binary);
      body.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    REQUIRE(body.size() > 100);
    if (damage == 0) body.resize(body.size() / 2);            // cut in the database
    if (damage == 1) body[body.size() - 50] ^= 0x5a;          // a flipped byte in it
    if (damage == 2) body[20] ^= 0x01;                        // the key differs
    {
      std::ofstream out(a_file, std::ios::binary | std::ios::trunc);
      out << body;
    }
    auto db = match::compile(a, match::Mode::kBlock);
    REQUIRE(db.ok());
    CHECK(hits(*db, "GET /x") == std::set<unsigned>{1});
    INFO("damage " << damage);
    CHECK(match::cache_stats().loaded == loaded_before);
  }
  // A cache that cannot be written is no error.
  match::set_cache_dir("/proc/no-such-dir/cache");
  CHECK(match::compile(a, match::Mode::kBlock).ok());
  match::set_cache_dir("");
  fsys::remove_all(tmpl);
}
