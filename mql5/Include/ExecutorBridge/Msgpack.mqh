//+------------------------------------------------------------------+
//| Msgpack.mqh: the msgpack codec of the EA bridge (MT5_BRIDGE.md). |
//|                                                                  |
//| Owns the wire format and nothing else: CMpReader parses one      |
//| bounded frame into a flat node arena (no pointers, no recursion  |
//| deeper than MP_MAX_DEPTH) and CMpWriter builds one message,      |
//| counting map/array items itself and emitting the smallest        |
//| header, as Python's msgpack does, so replies are byte-identical  |
//| to what the simulator sends.                                     |
//|                                                                  |
//| Types: nil, bool, int64, uint64 (tickets and magic keep all 64   |
//| bits), float64 (float32 is read, never written), UTF-8 str,      |
//| array, map with str keys. bin and ext are refused: the protocol  |
//| never sends them. A str holding NUL is refused too: MQL5 strings |
//| end at NUL, so "a\0b" would silently become "a".                 |
//|                                                                  |
//| Written in the C-like subset of MQL5 so that g++ compiles this   |
//| very file with tests/mql5_compat/mql5_compat.h (tests/           |
//| test_mql5_codec.py). Dynamic arrays are declared through the     |
//| MP_ARRAY* macros because C++ has no `T &a[]` syntax; the compat  |
//| header defines them first, MQL5 takes the definitions below.     |
//+------------------------------------------------------------------+
#ifndef EXECUTOR_BRIDGE_MSGPACK_MQH
#define EXECUTOR_BRIDGE_MSGPACK_MQH

#ifndef MP_ARRAY
#define MP_ARRAY(T, name)      T name[]
#define MP_ARRAY_REF(T, name)  T &name[]
#define MP_ARRAY_CREF(T, name) const T &name[]
#endif

// Node types of CMpReader.
#define MP_NIL    0
#define MP_BOOL   1
#define MP_INT    2   // a negative integer (int64)
#define MP_UINT   3   // a non-negative integer (uint64)
#define MP_DOUBLE 4
#define MP_STR    5
#define MP_ARRAY_T 6
#define MP_MAP    7

#define MP_MAX_DEPTH 32   // nesting of maps/arrays; protocol messages need 4
// Defaults equal bridge/protocol.py's limits (Protocol.mqh has them as PROTO_MAX_*).
#define MP_DEFAULT_MAX_FRAME 4194304
#define MP_DEFAULT_MAX_STR   1048576
#define MP_DEFAULT_MAX_ARRAY 1000000
#define MP_DEFAULT_MAX_MAP   100000
#define MP_DEFAULT_MAX_NODES 2000000

union MpBits64
  {
   ulong  u;
   double d;
  };

union MpBits32
  {
   uint  u;
   float f;
  };

struct MpNode
  {
   int    type;
   ulong  bits;    // MP_UINT value, MP_INT two's complement, MP_BOOL 0/1, MP_DOUBLE IEEE-754 bits
   string str;     // MP_STR text (and map keys)
   int    count;   // MP_ARRAY_T elements, MP_MAP pairs
   int    first;   // first child, -1 if none; a map's children are key, value, key, value...
   int    next;    // next sibling, -1 if last
  };

//+------------------------------------------------------------------+
//| CMpReader: parse one frame; read it through node indexes.        |
//+------------------------------------------------------------------+
class CMpReader
  {
private:
   MP_ARRAY(MpNode, m_nodes);
   int    m_count;
   int    m_pos;
   int    m_len;
   string m_error;
   int    m_max_frame;
   int    m_max_str;
   int    m_max_array;
   int    m_max_map;
   int    m_max_nodes;

   bool Fail(const string text)
     {
      if(m_error == "")
         m_error = text + " at byte " + IntegerToString(m_pos);
      return false;
     }

   int NewNode(const int type)
     {
      if(m_count >= m_max_nodes)
        {
         Fail("too many values in one frame");
         return -1;
        }
      if(m_count >= ArraySize(m_nodes))
        {
         int grown = ArraySize(m_nodes) * 2;
         if(grown < 64)
            grown = 64;
         if(ArrayResize(m_nodes, grown) != grown)
           {
            Fail("out of memory");
            return -1;
           }
        }
      int n = m_count;
      m_count++;
      m_nodes[n].type = type;
      m_nodes[n].bits = 0;
      m_nodes[n].str = "";
      m_nodes[n].count = 0;
      m_nodes[n].first = -1;
      m_nodes[n].next = -1;
      return n;
     }

   bool Need(const int n)
     {
      if(n < 0 || m_len - m_pos < n)
         return Fail("truncated frame");
      return true;
     }

   ulong ReadBE(MP_ARRAY_CREF(uchar, buf), const int n)
     {
      ulong value = 0;
      for(int k = 0; k < n; k++)
         value = (value << 8) | (ulong)buf[m_pos + k];
      m_pos += n;
      return value;
     }

   bool ValidUtf8(MP_ARRAY_CREF(uchar, buf), const int start, const int len) const
     {
      int i = start;
      int end = start + len;
      while(i < end)
        {
         int c = buf[i];
         if(c == 0)
            return false;
         if(c < 0x80)
           {
            i++;
            continue;
           }
         int need = 0;
         int cp = 0;
         int lowest = 0;
         if(c >= 0xC2 && c <= 0xDF)
           { need = 1; cp = c & 0x1F; lowest = 0x80; }
         else if(c >= 0xE0 && c <= 0xEF)
           { need = 2; cp = c & 0x0F; lowest = 0x800; }
         else if(c >= 0xF0 && c <= 0xF4)
           { need = 3; cp = c & 0x07; lowest = 0x10000; }
         else
            return false;
         if(end - i <= need)
            return false;
         for(int k = 1; k <= need; k++)
           {
            int cc = buf[i + k];
            if((cc & 0xC0) != 0x80)
               return false;
            cp = (cp << 6) | (cc & 0x3F);
           }
         if(cp < lowest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
         i += need + 1;
        }
      return true;
     }

   int ParseStr(MP_ARRAY_CREF(uchar, buf), const int len)
     {
      if(len > m_max_str)
        {
         Fail("string of " + IntegerToString(len) + " bytes exceeds " + IntegerToString(m_max_str));
         return -1;
        }
      if(!Need(len))
         return -1;
      if(!ValidUtf8(buf, m_pos, len))
        {
         Fail("string is not UTF-8 without NUL");
         return -1;
        }
      int n = NewNode(MP_STR);
      if(n < 0)
         return -1;
      if(len > 0)
         m_nodes[n].str = CharArrayToString(buf, m_pos, len, CP_UTF8);
      m_pos += len;
      return n;
     }

   int ParseContainer(MP_ARRAY_CREF(uchar, buf), const int items, const bool is_map, const int depth)
     {
      if(depth >= MP_MAX_DEPTH)
        {
         Fail("nesting deeper than " + IntegerToString(MP_MAX_DEPTH));
         return -1;
        }
      if(items > (is_map ? m_max_map : m_max_array))
        {
         Fail((is_map ? "map of " : "array of ") + IntegerToString(items) + " items exceeds the limit");
         return -1;
        }
      // Every value takes at least one byte: a count beyond the bytes left is a lie.
      int values = is_map ? items * 2 : items;
      if(values > m_len - m_pos)
        {
         Fail("truncated frame");
         return -1;
        }
      int node = NewNode(is_map ? MP_MAP : MP_ARRAY_T);
      if(node < 0)
         return -1;
      m_nodes[node].count = items;
      int prev = -1;
      for(int i = 0; i < values; i++)
        {
         int child = ParseValue(buf, depth + 1);
         if(child < 0)
            return -1;
         if(is_map && i % 2 == 0 && m_nodes[child].type != MP_STR)
           {
            Fail("map key is not a string");
            return -1;
           }
         if(prev < 0)
            m_nodes[node].first = child;
         else
            m_nodes[prev].next = child;
         prev = child;
        }
      return node;
     }

   int Scalar(const int type, const ulong bits)
     {
      int n = NewNode(type);
      if(n >= 0)
         m_nodes[n].bits = bits;
      return n;
     }

   int SignedScalar(const long value)
     {
      return Scalar(value < 0 ? MP_INT : MP_UINT, (ulong)value);
     }

   int ParseValue(MP_ARRAY_CREF(uchar, buf), const int depth)
     {
      if(!Need(1))
         return -1;
      int b = buf[m_pos];
      m_pos++;
      if(b <= 0x7F)
         return Scalar(MP_UINT, (ulong)b);
      if(b >= 0xE0)
         return Scalar(MP_INT, (ulong)((long)b - 256));
      if(b >= 0x80 && b <= 0x8F)
         return ParseContainer(buf, b & 0x0F, true, depth);
      if(b >= 0x90 && b <= 0x9F)
         return ParseContainer(buf, b & 0x0F, false, depth);
      if(b >= 0xA0 && b <= 0xBF)
         return ParseStr(buf, b & 0x1F);
      long v = 0;
      switch(b)
        {
         case 0xC0:
            return Scalar(MP_NIL, 0);
         case 0xC2:
            return Scalar(MP_BOOL, 0);
         case 0xC3:
            return Scalar(MP_BOOL, 1);
         case 0xCA:
           {
            if(!Need(4))
               return -1;
            MpBits32 f;
            f.u = (uint)ReadBE(buf, 4);
            MpBits64 d;
            d.d = (double)f.f;
            return Scalar(MP_DOUBLE, d.u);
           }
         case 0xCB:
            if(!Need(8))
               return -1;
            return Scalar(MP_DOUBLE, ReadBE(buf, 8));
         case 0xCC:
            if(!Need(1))
               return -1;
            return Scalar(MP_UINT, ReadBE(buf, 1));
         case 0xCD:
            if(!Need(2))
               return -1;
            return Scalar(MP_UINT, ReadBE(buf, 2));
         case 0xCE:
            if(!Need(4))
               return -1;
            return Scalar(MP_UINT, ReadBE(buf, 4));
         case 0xCF:
            if(!Need(8))
               return -1;
            return Scalar(MP_UINT, ReadBE(buf, 8));
         case 0xD0:
            if(!Need(1))
               return -1;
            v = (long)ReadBE(buf, 1);
            return SignedScalar(v >= 128 ? v - 256 : v);
         case 0xD1:
            if(!Need(2))
               return -1;
            v = (long)ReadBE(buf, 2);
            return SignedScalar(v >= 32768 ? v - 65536 : v);
         case 0xD2:
            if(!Need(4))
               return -1;
            v = (long)ReadBE(buf, 4);
            return SignedScalar(v >= 2147483648 ? v - 4294967296 : v);
         case 0xD3:
            if(!Need(8))
               return -1;
            return SignedScalar((long)ReadBE(buf, 8));
         case 0xD9:
            if(!Need(1))
               return -1;
            return ParseStr(buf, (int)ReadBE(buf, 1));
         case 0xDA:
            if(!Need(2))
               return -1;
            return ParseStr(buf, (int)ReadBE(buf, 2));
         case 0xDB:
           {
            if(!Need(4))
               return -1;
            ulong len32 = ReadBE(buf, 4);
            if(len32 > (ulong)m_max_str)
              {
               Fail("string of " + IntegerToString((long)len32) + " bytes exceeds " + IntegerToString(m_max_str));
               return -1;
              }
            return ParseStr(buf, (int)len32);
           }
         case 0xDC:
            if(!Need(2))
               return -1;
            return ParseContainer(buf, (int)ReadBE(buf, 2), false, depth);
         case 0xDD:
           {
            if(!Need(4))
               return -1;
            ulong n32 = ReadBE(buf, 4);
            if(n32 > (ulong)m_max_array)
              {
               Fail("array of " + IntegerToString((long)n32) + " items exceeds the limit");
               return -1;
              }
            return ParseContainer(buf, (int)n32, false, depth);
           }
         case 0xDE:
            if(!Need(2))
               return -1;
            return ParseContainer(buf, (int)ReadBE(buf, 2), true, depth);
         case 0xDF:
           {
            if(!Need(4))
               return -1;
            ulong m32 = ReadBE(buf, 4);
            if(m32 > (ulong)m_max_map)
              {
               Fail("map of " + IntegerToString((long)m32) + " items exceeds the limit");
               return -1;
              }
            return ParseContainer(buf, (int)m32, true, depth);
           }
        }
      m_pos--;
      Fail("unsupported msgpack type byte " + IntegerToString(b) + " (bin, ext and 0xc1 are refused)");
      return -1;
     }

public:
                     CMpReader(void)
     {
      m_count = 0;
      m_pos = 0;
      m_len = 0;
      m_error = "";
      m_max_frame = MP_DEFAULT_MAX_FRAME;
      m_max_str = MP_DEFAULT_MAX_STR;
      m_max_array = MP_DEFAULT_MAX_ARRAY;
      m_max_map = MP_DEFAULT_MAX_MAP;
      m_max_nodes = MP_DEFAULT_MAX_NODES;
     }

   void SetLimits(const int max_frame, const int max_str, const int max_array, const int max_map, const int max_nodes)
     {
      m_max_frame = max_frame;
      m_max_str = max_str;
      m_max_array = max_array;
      m_max_map = max_map;
      m_max_nodes = max_nodes;
     }

   // Parse the first `len` bytes of `buf` as exactly one msgpack value.
   bool Parse(MP_ARRAY_CREF(uchar, buf), const int len)
     {
      m_count = 0;
      m_pos = 0;
      m_len = len;
      m_error = "";
      if(len < 0 || len > ArraySize(buf))
         return Fail("frame length outside the buffer");
      if(len > m_max_frame)
         return Fail("frame of " + IntegerToString(len) + " bytes exceeds " + IntegerToString(m_max_frame));
      if(ParseValue(buf, 0) < 0)
        {
         m_count = 0;
         return false;
        }
      if(m_pos != m_len)
        {
         m_count = 0;
         return Fail("trailing bytes after the value");
        }
      return true;
     }

   string Error(void) const { return m_error; }
   int    Root(void) const  { return m_count > 0 ? 0 : -1; }
   int    Nodes(void) const { return m_count; }
   bool   Valid(const int n) const { return n >= 0 && n < m_count; }

   int Type(const int n) const  { return Valid(n) ? m_nodes[n].type : -1; }
   int Count(const int n) const { return Valid(n) ? m_nodes[n].count : 0; }
   int First(const int n) const { return Valid(n) ? m_nodes[n].first : -1; }
   int Next(const int n) const  { return Valid(n) ? m_nodes[n].next : -1; }

   bool IsNil(const int n) const    { return Type(n) == MP_NIL; }
   bool IsInt(const int n) const    { return Type(n) == MP_INT || Type(n) == MP_UINT; }
   bool IsNumber(const int n) const { return IsInt(n) || Type(n) == MP_DOUBLE; }
   bool IsStr(const int n) const    { return Type(n) == MP_STR; }
   bool IsMap(const int n) const    { return Type(n) == MP_MAP; }
   bool IsArray(const int n) const  { return Type(n) == MP_ARRAY_T; }
   bool IsBool(const int n) const   { return Type(n) == MP_BOOL; }
   // A uint64 above LONG_MAX (a ticket or magic) does not fit a long: read it with ULong().
   bool FitsLong(const int n) const { return Type(n) == MP_INT || (Type(n) == MP_UINT && m_nodes[n].bits <= (ulong)9223372036854775807); }

   ulong  Bits(const int n) const  { return Valid(n) ? m_nodes[n].bits : 0; }
   long   Long(const int n) const  { return IsInt(n) ? (long)m_nodes[n].bits : 0; }
   ulong  ULong(const int n) const { return IsInt(n) ? m_nodes[n].bits : 0; }
   bool   Bool(const int n) const  { return IsBool(n) && m_nodes[n].bits != 0; }
   string Str(const int n) const   { return IsStr(n) ? m_nodes[n].str : ""; }

   double Double(const int n) const
     {
      if(Type(n) == MP_DOUBLE)
        {
         MpBits64 b;
         b.u = m_nodes[n].bits;
         return b.d;
        }
      if(Type(n) == MP_UINT)
         return (double)m_nodes[n].bits;
      if(Type(n) == MP_INT)
         return (double)(long)m_nodes[n].bits;
      return 0.0;
     }

   // The value under `key` in map `map`, or -1.
   int Find(const int map, const string key) const
     {
      if(!IsMap(map))
         return -1;
      int k = m_nodes[map].first;
      while(k >= 0)
        {
         int v = m_nodes[k].next;
         if(m_nodes[k].str == key)
            return v;
         k = m_nodes[v].next;
        }
      return -1;
     }

   // The i-th child (arrays) or the i-th key (maps: its value is Next(key)); -1 past the end.
   int Child(const int n, const int i) const
     {
      int step = IsMap(n) ? 2 : 1;
      int c = First(n);
      for(int k = 0; k < i * step && c >= 0; k++)
         c = m_nodes[c].next;
      return c;
     }
  };

//+------------------------------------------------------------------+
//| CMpWriter: build one message in canonical (smallest) encoding.   |
//+------------------------------------------------------------------+
class CMpWriter
  {
private:
   MP_ARRAY(uchar, m_buf);
   MP_ARRAY(uchar, m_tmp);
   int    m_len;
   int    m_max_bytes;
   int    m_depth;
   int    m_open_at[MP_MAX_DEPTH];
   int    m_open_items[MP_MAX_DEPTH];
   bool   m_open_map[MP_MAX_DEPTH];
   int    m_roots;
   string m_error;

   void Fail(const string text)
     {
      if(m_error == "")
         m_error = text;
     }

   void Put(const int b)
     {
      if(m_len >= ArraySize(m_buf))
        {
         int grown = ArraySize(m_buf) * 2;
         if(grown < 256)
            grown = 256;
         if(ArrayResize(m_buf, grown) != grown)
           {
            Fail("out of memory");
            return;
           }
        }
      m_buf[m_len] = (uchar)(b & 0xFF);
      m_len++;
     }

   void PutBE(const ulong v, const int nbytes)
     {
      for(int k = nbytes - 1; k >= 0; k--)
         Put((int)((v >> (8 * k)) & 0xFF));
     }

   // Every value counts as one item of the innermost open container.
   void Item(void)
     {
      if(m_depth > 0)
         m_open_items[m_depth - 1]++;
      else
         m_roots++;
      if(m_roots > 1)
         Fail("more than one top-level value");
      if(m_len > m_max_bytes)
         Fail("message exceeds " + IntegerToString(m_max_bytes) + " bytes");
     }

   void Begin(const bool is_map)
     {
      Item();
      if(m_depth >= MP_MAX_DEPTH)
        {
         Fail("nesting deeper than " + IntegerToString(MP_MAX_DEPTH));
         return;
        }
      m_open_at[m_depth] = m_len;
      m_open_items[m_depth] = 0;
      m_open_map[m_depth] = is_map;
      m_depth++;
      for(int i = 0; i < 5; i++)  // room for the largest header; End() shrinks it
         Put(0);
     }

public:
                     CMpWriter(void)
     {
      m_max_bytes = MP_DEFAULT_MAX_FRAME;
      Reset();
     }

   void SetMaxBytes(const int max_bytes) { m_max_bytes = max_bytes; }

   void Reset(void)
     {
      m_len = 0;
      m_depth = 0;
      m_roots = 0;
      m_error = "";
     }

   int    Size(void) const   { return m_len; }
   bool   Failed(void) const { return m_error != "" || m_depth != 0; }
   string Error(void) const  { return m_error != "" ? m_error : (m_depth != 0 ? "unclosed map or array" : ""); }

   // Copy the message into `out` (resized to fit); returns its length, -1 if it failed.
   int Bytes(MP_ARRAY_REF(uchar, out)) const
     {
      if(Failed())
         return -1;
      ArrayResize(out, m_len);
      if(m_len > 0)
         ArrayCopy(out, m_buf, 0, 0, m_len);
      return m_len;
     }

   void BeginMap(void)   { Begin(true); }
   void BeginArray(void) { Begin(false); }

   void End(void)
     {
      if(m_depth <= 0)
        {
         Fail("End() without an open map or array");
         return;
        }
      m_depth--;
      int at = m_open_at[m_depth];
      int n = m_open_items[m_depth];
      bool is_map = m_open_map[m_depth];
      if(is_map)
        {
         if(n % 2 != 0)
           {
            Fail("map key without a value");
            return;
           }
         n /= 2;
        }
      int head = n <= 15 ? 1 : (n <= 65535 ? 3 : 5);
      int shift = 5 - head;
      if(shift > 0)
        {
         for(int i = at + 5; i < m_len; i++)
            m_buf[i - shift] = m_buf[i];
         m_len -= shift;
        }
      if(head == 1)
         m_buf[at] = (uchar)((is_map ? 0x80 : 0x90) | n);
      else
        {
         int bytes = head - 1;
         m_buf[at] = (uchar)(head == 3 ? (is_map ? 0xDE : 0xDC) : (is_map ? 0xDF : 0xDD));
         for(int k = 0; k < bytes; k++)
            m_buf[at + 1 + k] = (uchar)((n >> (8 * (bytes - 1 - k))) & 0xFF);
        }
     }

   void Nil(void)
     {
      Item();
      Put(0xC0);
     }

   void Bool(const bool v)
     {
      Item();
      Put(v ? 0xC3 : 0xC2);
     }

   void UInt(const ulong v)
     {
      Item();
      if(v < 128)
         Put((int)v);
      else if(v < 256)
        { Put(0xCC); PutBE(v, 1); }
      else if(v < 65536)
        { Put(0xCD); PutBE(v, 2); }
      else if(v <= (ulong)4294967295)
        { Put(0xCE); PutBE(v, 4); }
      else
        { Put(0xCF); PutBE(v, 8); }
     }

   void Int(const long v)
     {
      if(v >= 0)
        {
         UInt((ulong)v);
         return;
        }
      Item();
      ulong bits = (ulong)v;
      if(v >= -32)
         Put((int)(bits & 0xFF));
      else if(v >= -128)
        { Put(0xD0); PutBE(bits, 1); }
      else if(v >= -32768)
        { Put(0xD1); PutBE(bits, 2); }
      else if(v >= -2147483647 - 1)
        { Put(0xD2); PutBE(bits, 4); }
      else
        { Put(0xD3); PutBE(bits, 8); }
     }

   void Double(const double v)
     {
      Item();
      MpBits64 b;
      b.d = v;
      Put(0xCB);
      PutBE(b.u, 8);
     }

   void Str(const string v)
     {
      Item();
      int n = StringToCharArray(v, m_tmp, 0, -1, CP_UTF8);
      if(n > 0 && m_tmp[n - 1] == 0)
         n--;  // StringToCharArray copies the terminating NUL
      if(n < 0)
         n = 0;
      if(n <= 31)
         Put(0xA0 | n);
      else if(n <= 255)
        { Put(0xD9); PutBE((ulong)n, 1); }
      else if(n <= 65535)
        { Put(0xDA); PutBE((ulong)n, 2); }
      else
        { Put(0xDB); PutBE((ulong)n, 4); }
      for(int i = 0; i < n; i++)
         Put(m_tmp[i]);
     }

   // Map entries: the key, then one value.
   void Key(const string k)                      { Str(k); }
   void KeyNil(const string k)                   { Str(k); Nil(); }
   void KeyBool(const string k, const bool v)    { Str(k); Bool(v); }
   void KeyInt(const string k, const long v)     { Str(k); Int(v); }
   void KeyUInt(const string k, const ulong v)   { Str(k); UInt(v); }
   void KeyDouble(const string k, const double v){ Str(k); Double(v); }
   void KeyStr(const string k, const string v)   { Str(k); Str(v); }

   // Re-encode node `n` of a parsed frame (a request echoed in its reply, the cache).
   void Copy(const CMpReader &doc, const int n)
     {
      int type = doc.Type(n);
      if(type == MP_NIL)
         Nil();
      else if(type == MP_BOOL)
         Bool(doc.Bool(n));
      else if(type == MP_UINT)
         UInt(doc.ULong(n));
      else if(type == MP_INT)
         Int(doc.Long(n));
      else if(type == MP_DOUBLE)
         Double(doc.Double(n));
      else if(type == MP_STR)
         Str(doc.Str(n));
      else if(type == MP_ARRAY_T || type == MP_MAP)
        {
         Begin(type == MP_MAP);
         for(int c = doc.First(n); c >= 0; c = doc.Next(c))
            Copy(doc, c);
         End();
        }
      else
         Fail("cannot copy an invalid node");
     }
  };

#endif // EXECUTOR_BRIDGE_MSGPACK_MQH
