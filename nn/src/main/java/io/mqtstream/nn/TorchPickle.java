package io.mqtstream.nn;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the {@code data.pkl} of a PyTorch checkpoint ({@code torch.save} of a state dict, the zip
 * format of PyTorch 1.6 and later) without Python and without running anything it names: a pickle
 * machine for the opcodes {@code torch.save} writes, which knows exactly three callables ({@code
 * collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2}, {@code
 * torch._utils._rebuild_parameter}) and the typed storages; anything else is refused by name, so a
 * malicious pickle cannot execute code here.
 */
final class TorchPickle {
  /**
   * Where one tensor's values lie: its storage (an entry of the zip), offset, shape and strides.
   */
  record TensorRef(String storageKey, String dtype, long offset, long[] shape, long[] stride) {}

  private record Global(String module, String name) {}

  private record Storage(String key, String dtype) {}

  private final ByteBuffer in;
  private final String origin;
  private final java.util.ArrayDeque<Integer> marks = new java.util.ArrayDeque<>();
  private final Map<Integer, Object> memo = new HashMap<>();
  private final List<Object> items = new ArrayList<>(); // the stack as a list, bottom first

  private TorchPickle(byte[] data, String origin) {
    this.in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    this.origin = origin;
  }

  /**
   * The tensors of a pickled state dict, by name.
   *
   * @throws IOException for anything that is not a state dict of plain tensors
   */
  static Map<String, TensorRef> stateDict(byte[] data, String origin) throws IOException {
    Object root = new TorchPickle(data, origin).run();
    if (!(root instanceof Map<?, ?> map)) {
      throw new IOException(origin + ": not a state dict (a " + describe(root) + ")");
    }
    Map<String, TensorRef> out = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      if (e.getKey() instanceof String name && e.getValue() instanceof TensorRef t) {
        out.put(name, t);
      } else {
        throw new IOException(origin + ": entry " + e.getKey() + " is not a tensor");
      }
    }
    return out;
  }

  private Object run() throws IOException {
    try {
      while (true) {
        int op = in.get() & 0xFF;
        switch (op) {
          case 0x80 -> in.get(); // PROTO
          case 0x95 -> in.getLong(); // FRAME
          case '.' -> { // STOP
            return pop();
          }
          case '(' -> marks.push(items.size()); // MARK
          case 'c' -> push(new Global(line(), line())); // GLOBAL
          case 0x93 -> { // STACK_GLOBAL
            String name = (String) pop();
            push(new Global((String) pop(), name));
          }
          case 'q' -> memo.put(in.get() & 0xFF, peek()); // BINPUT
          case 'r' -> memo.put(in.getInt(), peek()); // LONG_BINPUT
          case 0x94 -> memo.put(memo.size(), peek()); // MEMOIZE
          case 'h' -> push(memo.get(in.get() & 0xFF)); // BINGET
          case 'j' -> push(memo.get(in.getInt())); // LONG_BINGET
          case '}' -> push(new LinkedHashMap<Object, Object>()); // EMPTY_DICT
          case ']' -> push(new ArrayList<Object>()); // EMPTY_LIST
          case ')' -> push(List.of()); // EMPTY_TUPLE
          case 't' -> push(List.copyOf(popToMark())); // TUPLE
          case 0x85 -> push(List.of(pop())); // TUPLE1
          case 0x86 -> { // TUPLE2
            Object b = pop();
            push(List.of(pop(), b));
          }
          case 0x87 -> { // TUPLE3
            Object c = pop();
            Object b = pop();
            push(List.of(pop(), b, c));
          }
          case 'N' -> push(NONE); // NONE
          case 0x88 -> push(Boolean.TRUE); // NEWTRUE
          case 0x89 -> push(Boolean.FALSE); // NEWFALSE
          case 'J' -> push((long) in.getInt()); // BININT
          case 'K' -> push((long) (in.get() & 0xFF)); // BININT1
          case 'M' -> push((long) (in.getShort() & 0xFFFF)); // BININT2
          case 0x8a -> push(long1()); // LONG1
          case 'G' -> push(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); // BINFLOAT
          case 'X' -> push(text(in.getInt())); // BINUNICODE
          case 0x8c -> push(text(in.get() & 0xFF)); // SHORT_BINUNICODE
          case 'T' -> push(text(in.getInt())); // BINSTRING
          case 'U' -> push(text(in.get() & 0xFF)); // SHORT_BINSTRING
          case 'Q' -> push(persistent(pop())); // BINPERSID
          case 'R' -> { // REDUCE
            Object args = pop();
            push(reduce(pop(), (List<?>) args));
          }
          case 0x81 -> { // NEWOBJ
            Object args = pop();
            push(reduce(pop(), (List<?>) args));
          }
          case 'b' -> pop(); // BUILD: state for the object below (OrderedDict metadata): ignored
          case 's' -> { // SETITEM
            Object v = pop();
            Object k = pop();
            dict(peek()).put(k, v);
          }
          case 'u' -> { // SETITEMS
            List<Object> kv = popToMark();
            Map<Object, Object> d = dict(peek());
            for (int i = 0; i + 1 < kv.size(); i += 2) {
              d.put(kv.get(i), kv.get(i + 1));
            }
          }
          case 'a' -> { // APPEND
            Object v = pop();
            list(peek()).add(v);
          }
          case 'e' -> list(peekBelowMark()).addAll(popToMark()); // APPENDS
          default ->
              throw new IOException(
                  origin + ": pickle opcode 0x" + Integer.toHexString(op) + " is not supported");
        }
      }
    } catch (java.nio.BufferUnderflowException
        | ClassCastException
        | IndexOutOfBoundsException
        | NullPointerException e) {
      throw new IOException(origin + ": malformed pickle (" + e + ")", e);
    }
  }

  private static final Object NONE = new Object();

  private Object reduce(Object callable, List<?> args) throws IOException {
    if (!(callable instanceof Global g)) {
      throw new IOException(origin + ": cannot call a " + describe(callable));
    }
    String name = g.module() + "." + g.name();
    switch (name) {
      case "collections.OrderedDict" -> {
        return new LinkedHashMap<Object, Object>();
      }
      case "torch._utils._rebuild_tensor_v2" -> {
        Storage s = (Storage) args.get(0);
        return new TensorRef(
            s.key(),
            s.dtype(),
            (Long) args.get(1),
            longs((List<?>) args.get(2)),
            longs((List<?>) args.get(3)));
      }
      case "torch._utils._rebuild_parameter" -> {
        return args.get(0);
      }
      default -> throw new IOException(origin + ": refuses to call " + name);
    }
  }

  private Object persistent(Object pid) throws IOException {
    List<?> t = (List<?>) pid;
    if (t.size() < 5 || !"storage".equals(t.get(0)) || !(t.get(1) instanceof Global type)) {
      throw new IOException(origin + ": unknown persistent id " + pid);
    }
    String dtype =
        switch (type.name()) {
          case "FloatStorage" -> "F32";
          case "HalfStorage" -> "F16";
          case "BFloat16Storage" -> "BF16";
          default -> throw new IOException(origin + ": storage type " + type.name());
        };
    return new Storage((String) t.get(2), dtype);
  }

  private static long[] longs(List<?> values) {
    long[] out = new long[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (Long) values.get(i);
    }
    return out;
  }

  private long long1() {
    int n = in.get() & 0xFF;
    long v = 0;
    for (int i = 0; i < n; i++) {
      v |= (long) (in.get() & 0xFF) << (8 * i);
    }
    if (n > 0 && n < 8 && (v & (1L << (8 * n - 1))) != 0) {
      v -= 1L << (8 * n); // negative
    }
    return v;
  }

  private String text(int length) {
    byte[] b = new byte[length];
    in.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  private String line() {
    StringBuilder b = new StringBuilder();
    byte c;
    while ((c = in.get()) != '\n') {
      b.append((char) c);
    }
    return b.toString();
  }

  private void push(Object o) {
    items.add(o);
  }

  private Object pop() {
    return items.remove(items.size() - 1);
  }

  private Object peek() {
    return items.get(items.size() - 1);
  }

  private Object peekBelowMark() {
    return items.get(marks.peek() - 1);
  }

  private List<Object> popToMark() {
    int at = marks.pop();
    List<Object> out = new ArrayList<>(items.subList(at, items.size()));
    items.subList(at, items.size()).clear();
    return out;
  }

  @SuppressWarnings("unchecked")
  private Map<Object, Object> dict(Object o) throws IOException {
    if (o instanceof Map<?, ?> m) {
      return (Map<Object, Object>) m;
    }
    throw new IOException(origin + ": SETITEM on a " + describe(o));
  }

  @SuppressWarnings("unchecked")
  private List<Object> list(Object o) throws IOException {
    if (o instanceof ArrayList<?> l) {
      return (List<Object>) l;
    }
    throw new IOException(origin + ": APPEND on a " + describe(o));
  }

  private static String describe(Object o) {
    return o == null
        ? "null"
        : o instanceof Global g ? g.module() + "." + g.name() : o.getClass().getSimpleName();
  }
}
