// codec_driver.cpp: runs the EA's msgpack codec (Msgpack.mqh, compiled unchanged) for
// tests/test_mql5_codec.py. One process per call; everything on files and stdout.
//
//   codec_driver roundtrip IN OUT   parse IN, re-encode the tree into OUT   (exit 2 + "ERR why")
//   codec_driver dump IN            print the tree through the reader's accessors
//   codec_driver prefixes IN        every strict prefix of IN and IN+1 byte must be refused
//   codec_driver batch IN [MAX_FRAME MAX_STR MAX_ARRAY MAX_MAP MAX_NODES]
//                                   IN = frames as [u32 little-endian length][bytes]...;
//                                   one line each: "ok <hex of re-encoding>" or "err <why>"
//   codec_driver build OUT          a message built through the writer's API
//   codec_driver protocol           a few generated constants of Protocol.mqh
//   codec_driver idem_decode IN     IdempotencyFile.mqh reads the file IN: "ok COUNT" then one
//                                   "entry <hex id> <stored_at_ms> <hex data>" each, or "err why"
//   codec_driver idem_prefixes IN   every strict prefix of the file IN and IN+1 byte must be refused
//   codec_driver idem_encode SPEC OUT
//                                   SPEC lines "<hex id> <stored_at_ms> <hex data>" (oldest first)
//                                   -> the file bytes into OUT; prints "storable 0|1" per entry
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "mql5_compat.h"
#include "../../mql5/Include/ExecutorBridge/Msgpack.mqh"
#include "../../mql5/Include/ExecutorBridge/Protocol.mqh"
#include "../../mql5/Include/ExecutorBridge/IdempotencyFile.mqh"

static_assert(MP_DEFAULT_MAX_FRAME == PROTO_MAX_FRAME_BYTES, "Msgpack.mqh frame limit != protocol.py");
static_assert(MP_DEFAULT_MAX_STR == PROTO_MAX_STR_LEN, "Msgpack.mqh string limit != protocol.py");
static_assert(MP_DEFAULT_MAX_ARRAY == PROTO_MAX_ARRAY_LEN, "Msgpack.mqh array limit != protocol.py");
static_assert(MP_DEFAULT_MAX_MAP == PROTO_MAX_MAP_LEN, "Msgpack.mqh map limit != protocol.py");

static MqlArray<uchar> read_file(const char *path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(3);
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MqlArray<uchar> out;
  ArrayResize(out, static_cast<int>(bytes.size()));
  for (size_t i = 0; i < bytes.size(); i++) out.items[i] = static_cast<uchar>(bytes[i]);
  return out;
}

static void write_file(const char *path, const MqlArray<uchar> &data, int len) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(data.items.data()), len);
}

static std::string hex(const std::string &bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

static void dump(const CMpReader &doc, int n, std::ostream &out) {
  switch (doc.Type(n)) {
    case MP_NIL: out << "nil\n"; return;
    case MP_BOOL: out << "bool " << (doc.Bool(n) ? 1 : 0) << "\n"; return;
    case MP_INT: out << "int " << doc.Long(n) << "\n"; return;
    case MP_UINT: out << "uint " << doc.ULong(n) << "\n"; return;
    case MP_DOUBLE: {
      double d = doc.Double(n);
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      char text[32];
      std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
      out << "double " << text << "\n";
      return;
    }
    case MP_STR: out << "str " << hex(doc.Str(n)) << "\n"; return;
    case MP_ARRAY_T:
      out << "array " << doc.Count(n) << "\n";
      for (int i = 0; i < doc.Count(n); i++) dump(doc, doc.Child(n, i), out);
      return;
    case MP_MAP:
      out << "map " << doc.Count(n) << "\n";
      for (int i = 0; i < doc.Count(n); i++) {
        int key = doc.Child(n, i);
        out << "key " << hex(doc.Str(key)) << "\n";
        dump(doc, doc.Find(n, doc.Str(key)), out);  // look the value up by name, as handlers do
      }
      return;
  }
  out << "invalid\n";
}

static std::string hex_of(const MqlArray<uchar> &bytes, int len) {
  return hex(std::string(bytes.items.begin(), bytes.items.begin() + len));
}

static std::string unhex(const std::string &text) {
  std::string out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16)));
  return out;
}

static int idem_decode(const char *path) {
  MqlArray<uchar> bytes = read_file(path);
  MqlArray<EbCached> entries;
  string error;
  int count = EbIdemDecode(bytes, ArraySize(bytes), entries, error);
  if (count < 0) {
    std::printf("err %s\n", error.c_str());
    return 0;
  }
  std::printf("ok %d\n", count);
  for (int i = 0; i < count; i++)
    std::printf("entry %s %ld %s\n", hex(entries[i].id).c_str(), entries[i].stored_at_ms,
                hex_of(entries[i].data, ArraySize(entries[i].data)).c_str());
  return 0;
}

static int idem_prefixes(const char *path) {
  MqlArray<uchar> bytes = read_file(path);
  MqlArray<EbCached> entries;
  string error;
  int n = ArraySize(bytes);
  if (EbIdemDecode(bytes, n, entries, error) < 0) {
    std::printf("the whole file is refused: %s\n", error.c_str());
    return 1;
  }
  for (int len = 0; len < n; len++) {
    if (EbIdemDecode(bytes, len, entries, error) >= 0) {
      std::printf("accepted a prefix of %d of %d bytes\n", len, n);
      return 1;
    }
  }
  ArrayResize(bytes, n + 1);
  bytes[n] = 0;
  if (EbIdemDecode(bytes, n + 1, entries, error) >= 0) {
    std::printf("accepted a trailing byte\n");
    return 1;
  }
  std::printf("OK prefixes of %d bytes refused\n", n);
  return 0;
}

static int idem_encode(const char *spec, const char *path) {
  std::ifstream in(spec);
  MqlArray<EbCached> entries;
  std::string id_hex, data_hex;
  long stored_at;
  while (in >> id_hex >> stored_at >> data_hex) {
    int n = ArraySize(entries);
    ArrayResize(entries, n + 1);
    entries[n].id = unhex(id_hex == "-" ? "" : id_hex);
    entries[n].stored_at_ms = stored_at;
    std::string data = unhex(data_hex == "-" ? "" : data_hex);
    ArrayResize(entries[n].data, static_cast<int>(data.size()));
    for (size_t k = 0; k < data.size(); k++) entries[n].data[static_cast<int>(k)] = static_cast<uchar>(data[k]);
    std::printf("storable %d\n", EbIdemStorable(entries[n].id, ArraySize(entries[n].data)) ? 1 : 0);
  }
  MqlArray<uchar> out;
  int size = EbIdemEncode(entries, ArraySize(entries), out);
  write_file(path, out, size);
  return 0;
}

static int roundtrip(CMpReader &doc, const MqlArray<uchar> &frame, int len, MqlArray<uchar> &out, std::string &why) {
  if (!doc.Parse(frame, len)) {
    why = doc.Error();
    return -1;
  }
  CMpWriter writer;
  writer.Copy(doc, doc.Root());
  int size = writer.Bytes(out);
  if (size < 0) why = "writer: " + writer.Error();
  return size;
}

static int build(const char *path) {
  CMpWriter w;
  w.BeginMap();
  w.KeyInt("v", 1);
  w.KeyStr("type", "order_send");
  w.KeyStr("id", "c-0001");
  w.KeyInt("seq", 70000);
  w.KeyInt("ts", 1718000000123L);
  w.KeyStr("boot", "a1b2c3d4e5f6");
  w.KeyUInt("term", 5000001);
  w.KeyBool("ok", true);
  w.Key("data");
  w.BeginMap();
  w.KeyInt("retcode", 10009);
  w.KeyUInt("deal", 4294967297UL);
  w.KeyUInt("order", 18446744073709551615UL);
  w.KeyDouble("volume", 0.1);
  w.KeyDouble("price", 1.08123);
  w.KeyDouble("bid", -0.0);
  w.KeyDouble("ask", 1e300);
  w.KeyStr("comment", "Request executed \xc3\xa9\xe2\x82\xac\xf0\x9f\x93\x88");
  w.KeyInt("request_id", 4000000000L);
  w.KeyInt("retcode_external", -1);
  w.KeyNil("nothing");
  w.Key("negatives");
  w.BeginArray();
  const long negatives[] = {-1, -32, -33, -128, -129, -32768, -32769, -2147483648L, -2147483649L,
                            -9223372036854775807L - 1};
  for (long v : negatives) w.Int(v);
  w.End();
  w.Key("unsigned");
  w.BeginArray();
  const unsigned long positives[] = {0, 127, 128, 255, 256, 65535, 65536, 4294967295UL, 4294967296UL,
                                     9223372036854775808UL};
  for (unsigned long v : positives) w.UInt(v);
  w.End();
  w.Key("long_array");
  w.BeginArray();
  for (int i = 0; i < 70000; i++) w.Int(i % 3);
  w.End();
  w.Key("wide_map");
  w.BeginMap();
  for (int i = 0; i < 20; i++) w.KeyInt("k" + IntegerToString(i, 2, '0'), i);
  w.End();
  w.KeyStr("str8", std::string(40, 'x'));
  w.KeyStr("str16", std::string(300, 'y'));
  w.KeyStr("str32", std::string(70000, 'z'));
  w.Key("nested");
  w.BeginArray();
  w.BeginArray();
  w.BeginMap();
  w.End();
  w.BeginArray();
  w.End();
  w.End();
  w.End();
  w.End();  // data
  w.End();  // message
  MqlArray<uchar> out;
  int size = w.Bytes(out);
  if (size < 0) {
    std::printf("ERR %s\n", w.Error().c_str());
    return 2;
  }
  write_file(path, out, size);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: codec_driver roundtrip|dump|prefixes|batch|build|protocol ...\n");
    return 64;
  }
  std::string mode = argv[1];
  CMpReader doc;
  if (mode == "roundtrip" && argc == 4) {
    MqlArray<uchar> frame = read_file(argv[2]), out;
    std::string why;
    int size = roundtrip(doc, frame, ArraySize(frame), out, why);
    if (size < 0) {
      std::printf("ERR %s\n", why.c_str());
      return 2;
    }
    write_file(argv[3], out, size);
    return 0;
  }
  if (mode == "dump" && argc == 3) {
    MqlArray<uchar> frame = read_file(argv[2]);
    if (!doc.Parse(frame, ArraySize(frame))) {
      std::printf("ERR %s\n", doc.Error().c_str());
      return 2;
    }
    dump(doc, doc.Root(), std::cout);
    return 0;
  }
  if (mode == "prefixes" && argc == 3) {
    MqlArray<uchar> frame = read_file(argv[2]);
    int n = ArraySize(frame);
    int step = n > 8000 ? n / 400 : 1;  // every prefix of a protocol message; a sample of big ones
    for (int len = 0; len < n; len = (len < 64 || len + step >= n - 64) ? len + 1 : len + step) {
      if (doc.Parse(frame, len)) {
        std::printf("accepted a prefix of %d of %d bytes\n", len, n);
        return 1;
      }
    }
    ArrayResize(frame, n + 1);
    frame[n] = 0xC0;
    if (doc.Parse(frame, n + 1)) {
      std::printf("accepted a trailing byte\n");
      return 1;
    }
    std::printf("OK prefixes of %d bytes refused\n", n);
    return 0;
  }
  if (mode == "batch" && (argc == 3 || argc == 8)) {
    if (argc == 8)
      doc.SetLimits(std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]), std::atoi(argv[6]),
                    std::atoi(argv[7]));
    MqlArray<uchar> all = read_file(argv[2]), frame, out;
    int at = 0, size = ArraySize(all);
    while (at + 4 <= size) {
      int len = all[at] | (all[at + 1] << 8) | (all[at + 2] << 16) | (all[at + 3] << 24);
      at += 4;
      if (len < 0 || at + len > size) {
        std::fprintf(stderr, "corrupt batch file\n");
        return 3;
      }
      ArrayResize(frame, len);
      for (int i = 0; i < len; i++) frame[i] = all[at + i];
      at += len;
      std::string why;
      int got = roundtrip(doc, frame, len, out, why);
      if (got < 0) {
        std::printf("err %s\n", why.c_str());
      } else {
        std::string bytes(out.items.begin(), out.items.begin() + got);
        std::printf("ok %s\n", hex(bytes).c_str());
      }
    }
    return 0;
  }
  if (mode == "build" && argc == 3) return build(argv[2]);
  if (mode == "idem_decode" && argc == 3) return idem_decode(argv[2]);
  if (mode == "idem_prefixes" && argc == 3) return idem_prefixes(argv[2]);
  if (mode == "idem_encode" && argc == 4) return idem_encode(argv[2], argv[3]);
  if (mode == "protocol" && argc == 2) {
    std::printf("%d\n%s\n%s\n%d\n%s\n%d\n", PROTO_MAX_FRAME_BYTES, PROTO_HELLO, MT5_RETCODE_TEXT(10009).c_str(),
                MT5_TRADE_RETCODE_HEDGE_PROHIBITED, PROTO_ENVELOPE_KEYS[PROTO_ENVELOPE_KEYS_COUNT - 1].c_str(),
                MT5_TIMEFRAME_SECONDS("H4"));
    return 0;
  }
  std::fprintf(stderr, "bad arguments for mode %s\n", mode.c_str());
  return 64;
}
