//+------------------------------------------------------------------+
//| IdempotencyFile.mqh: the bytes of the idempotency file, and      |
//| nothing else (Idempotency.mqh reads and writes the file).        |
//|                                                                  |
//| "EBIC" u32 version, u32 count, then per entry: u32 id length, id |
//| bytes (UTF-8), i64 stored_at ms UTC, u32 data length, data (the  |
//| msgpack `data` map of the reply); integers little-endian, as     |
//| FileWriteInteger/FileWriteLong wrote them before this split, so  |
//| older files still read. One rule on both sides: an id is        |
//| measured in UTF-8 BYTES (EB_IDEM_MAX_ID), never in MQL5's UTF-16 |
//| characters, so the writer never stores an entry the reader would |
//| refuse (which made a whole file read as damaged). Bytes that are |
//| not a whole file decode to nothing, never to half a cache.       |
//|                                                                  |
//| Written in the C-like subset of MQL5 that Msgpack.mqh uses, so   |
//| g++ compiles this file unchanged (tests/mql5_compat/,            |
//| tests/test_mql5_codec.py).                                       |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_IDEMPOTENCY_FILE_MQH
#define EXECUTOR_BRIDGE_IDEMPOTENCY_FILE_MQH

#ifndef MP_ARRAY
#define MP_ARRAY(T, name)      T name[]
#define MP_ARRAY_REF(T, name)  T &name[]
#define MP_ARRAY_CREF(T, name) const T &name[]
#endif

#define EB_IDEM_MAX_ENTRIES 10000
#define EB_IDEM_MAGIC       0x43494245   // "EBIC" little-endian
#define EB_IDEM_VERSION     1
#define EB_IDEM_MAX_ID      256          // UTF-8 bytes
#define EB_IDEM_MAX_DATA    65536
#define EB_IDEM_MAX_FILE    16777216     // the newest entries that fit; a reply is ~1 KiB
#define EB_IDEM_HEADER      12

struct EbCached
  {
   string id;
   long   stored_at_ms;
   MP_ARRAY(uchar, data);
  };

// The UTF-8 bytes of `id`, without the NUL StringToCharArray adds; their count.
int EbIdemIdBytes(const string id, MP_ARRAY_REF(uchar, bytes))
  {
   int n = StringToCharArray(id, bytes, 0, -1, CP_UTF8) - 1;
   return n < 0 ? 0 : n;
  }

// Whether an entry may be stored: exactly the limits the reader enforces, in the same units.
bool EbIdemStorable(const string id, const int data_len)
  {
   MP_ARRAY(uchar, bytes);
   int n = EbIdemIdBytes(id, bytes);
   return n > 0 && n <= EB_IDEM_MAX_ID && data_len >= 0 && data_len <= EB_IDEM_MAX_DATA;
  }

void EbIdemPut(MP_ARRAY_REF(uchar, out), int &at, const long value, const int size)
  {
   for(int i = 0; i < size; i++)
      out[at + i] = (uchar)((value >> (8 * i)) & 0xFF);
   at += size;
  }

long EbIdemGet(MP_ARRAY_CREF(uchar, in), int &at, const int size)
  {
   ulong value = 0;
   for(int i = 0; i < size; i++)
      value |= ((ulong)in[at + i]) << (8 * i);
   at += size;
   if(size == 4)
      return (long)(value & 0xFFFFFFFF);  // lengths and counts: unsigned 32-bit
   return (long)value;
  }

// The file bytes of entries[0..count) (oldest first) into `out`; its size. Entries that may not
// be stored are left out, and the oldest ones when the file would pass EB_IDEM_MAX_FILE.
int EbIdemEncode(MP_ARRAY_CREF(EbCached, entries), const int count, MP_ARRAY_REF(uchar, out))
  {
   MP_ARRAY(uchar, id);
   long size = EB_IDEM_HEADER;
   int kept = 0;
   int keep_from = count;
   for(int i = count - 1; i >= 0; i--)
     {
      int data_len = ArraySize(entries[i].data);
      if(!EbIdemStorable(entries[i].id, data_len))
         continue;
      long entry = 4 + EbIdemIdBytes(entries[i].id, id) + 8 + 4 + data_len;
      if(size + entry > EB_IDEM_MAX_FILE || kept >= EB_IDEM_MAX_ENTRIES)
         break;
      size += entry;
      kept++;
      keep_from = i;
     }
   ArrayResize(out, (int)size);
   int at = 0;
   EbIdemPut(out, at, EB_IDEM_MAGIC, 4);
   EbIdemPut(out, at, EB_IDEM_VERSION, 4);
   EbIdemPut(out, at, kept, 4);
   for(int i = keep_from; i < count; i++)
     {
      int data_len = ArraySize(entries[i].data);
      if(!EbIdemStorable(entries[i].id, data_len))
         continue;
      int n = EbIdemIdBytes(entries[i].id, id);
      EbIdemPut(out, at, n, 4);
      for(int k = 0; k < n; k++)
         out[at + k] = id[k];
      at += n;
      EbIdemPut(out, at, entries[i].stored_at_ms, 8);
      EbIdemPut(out, at, data_len, 4);
      for(int k = 0; k < data_len; k++)
         out[at + k] = entries[i].data[k];
      at += data_len;
     }
   return at;
  }

// The entries of bytes[0..size) into `entries` (oldest first); their count, or -1 with `error`
// when the bytes are not one whole file of this version.
int EbIdemDecode(MP_ARRAY_CREF(uchar, bytes), const int size, MP_ARRAY_REF(EbCached, entries), string &error)
  {
   error = "";
   if(size < EB_IDEM_HEADER || size > ArraySize(bytes) || size > EB_IDEM_MAX_FILE)
     {
      error = "not an idempotency file (size " + IntegerToString(size) + ")";
      return -1;
     }
   int at = 0;
   if(EbIdemGet(bytes, at, 4) != EB_IDEM_MAGIC || EbIdemGet(bytes, at, 4) != EB_IDEM_VERSION)
     {
      error = "not an idempotency file of version " + IntegerToString(EB_IDEM_VERSION);
      return -1;
     }
   long count = EbIdemGet(bytes, at, 4);
   if(count > EB_IDEM_MAX_ENTRIES)
     {
      error = "claims " + IntegerToString(count) + " entries";
      return -1;
     }
   ArrayResize(entries, (int)count);
   MP_ARRAY(uchar, id);
   MP_ARRAY(uchar, again);
   for(int i = 0; i < (int)count; i++)
     {
      string where = "entry " + IntegerToString(i + 1) + ": ";
      if(size - at < 4)
        { error = where + "truncated"; return -1; }
      long n = EbIdemGet(bytes, at, 4);
      if(n <= 0 || n > EB_IDEM_MAX_ID || size - at < n)
        { error = where + "id of " + IntegerToString(n) + " bytes"; return -1; }
      ArrayResize(id, (int)n);
      for(int k = 0; k < (int)n; k++)
        {
         id[k] = bytes[at + k];
         if(id[k] == 0)
           { error = where + "id holds a NUL"; return -1; }  // MQL5 strings end there: a false match
        }
      at += (int)n;
      entries[i].id = CharArrayToString(id, 0, (int)n, CP_UTF8);
      // An id that does not read back as its bytes (not UTF-8) could never match a request id.
      bool same = EbIdemIdBytes(entries[i].id, again) == (int)n;
      for(int k = 0; same && k < (int)n; k++)
         same = again[k] == id[k];
      if(!same)
        { error = where + "id is not UTF-8"; return -1; }
      if(size - at < 12)
        { error = where + "truncated"; return -1; }
      entries[i].stored_at_ms = EbIdemGet(bytes, at, 8);
      long data_len = EbIdemGet(bytes, at, 4);
      if(data_len > EB_IDEM_MAX_DATA || size - at < data_len)
        { error = where + "data of " + IntegerToString(data_len) + " bytes"; return -1; }
      ArrayResize(entries[i].data, (int)data_len);
      for(int k = 0; k < (int)data_len; k++)
         entries[i].data[k] = bytes[at + k];
      at += (int)data_len;
     }
   if(at != size)
     {
      error = IntegerToString(size - at) + " bytes after the last entry";
      return -1;
     }
   return (int)count;
  }

#endif // EXECUTOR_BRIDGE_IDEMPOTENCY_FILE_MQH
