package io.mqtstream.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The tensors of a Hugging Face checkpoint folder, read selectively: {@code model.safetensors}, or
 * shards listed in {@code model.safetensors.index.json} ({@code weight_map}: tensor → file); or the
 * PyTorch pickles of that era, {@code pytorch_model.bin} or shards listed in {@code
 * pytorch_model.bin.index.json} (zip archives of {@code torch.save}, read without Python by {@link
 * TorchPickle}, which refuses to call anything but the tensor rebuilders). Only the header (or the
 * pickle) of each file is parsed up front; a tensor's bytes are read when asked for, so a block can
 * take its dozen tensors out of a 10 GB shard. F32, F16 and BF16 are converted to float.
 */
public final class CheckpointFolder {
  public static final String SINGLE = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";
  public static final String BIN_SINGLE = "pytorch_model.bin";
  public static final String BIN_INDEX = "pytorch_model.bin.index.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Where one tensor lies: bytes begin..end after base in the file, or, for a PyTorch zip, in its
   * entry {@code zipEntry}.
   */
  private record Entry(
      Path file, String dtype, long[] shape, long begin, long end, long base, String zipEntry) {}

  private final Path dir;
  private final Map<String, Entry> entries = new LinkedHashMap<>();

  private CheckpointFolder(Path dir) {
    this.dir = dir;
  }

  /**
   * Reads the index (or the single file's header) of a checkpoint folder.
   *
   * @throws IOException naming the folder when it holds neither layout, or a malformed header
   */
  public static CheckpointFolder open(Path dir) throws IOException {
    CheckpointFolder folder = new CheckpointFolder(dir);
    Path index = dir.resolve(INDEX);
    if (Files.isRegularFile(index)) {
      JsonNode map = JSON.readTree(index.toFile()).path("weight_map");
      if (!map.isObject()) {
        throw new IOException(index + ": no weight_map");
      }
      for (String file : new TreeSet<>(iterable(map))) {
        folder.readHeader(dir.resolve(file));
      }
    } else if (Files.isRegularFile(dir.resolve(SINGLE))) {
      folder.readHeader(dir.resolve(SINGLE));
    } else if (Files.isRegularFile(dir.resolve(BIN_INDEX))) {
      JsonNode map = JSON.readTree(dir.resolve(BIN_INDEX).toFile()).path("weight_map");
      if (!map.isObject()) {
        throw new IOException(dir.resolve(BIN_INDEX) + ": no weight_map");
      }
      for (String file : new TreeSet<>(iterable(map))) {
        folder.readPickle(dir.resolve(file));
      }
    } else if (Files.isRegularFile(dir.resolve(BIN_SINGLE))) {
      folder.readPickle(dir.resolve(BIN_SINGLE));
    } else {
      throw new IOException(
          dir + ": none of " + INDEX + ", " + SINGLE + ", " + BIN_INDEX + ", " + BIN_SINGLE);
    }
    return folder;
  }

  /**
   * A {@code torch.save} zip: its {@code data.pkl} names the tensors, {@code data/KEY} hold them.
   */
  private void readPickle(Path file) throws IOException {
    try (ZipFile zip = new ZipFile(file.toFile())) {
      ZipEntry pkl =
          zip.stream()
              .filter(e -> e.getName().endsWith("/data.pkl") || e.getName().equals("data.pkl"))
              .findFirst()
              .orElseThrow(() -> new IOException(file + ": not a PyTorch zip checkpoint"));
      String prefix = pkl.getName().substring(0, pkl.getName().length() - "data.pkl".length());
      byte[] data;
      try (InputStream in = zip.getInputStream(pkl)) {
        data = in.readAllBytes();
      }
      for (Map.Entry<String, TorchPickle.TensorRef> e :
          TorchPickle.stateDict(data, file.toString()).entrySet()) {
        TorchPickle.TensorRef t = e.getValue();
        long count = 1;
        long expected = 1;
        for (int i = t.shape().length - 1; i >= 0; i--) {
          if (t.shape()[i] != 1 && t.stride()[i] != expected) {
            throw new IOException(file + ": tensor " + e.getKey() + " is not contiguous");
          }
          expected *= t.shape()[i];
        }
        count = expected;
        int width = t.dtype().equals("F32") ? 4 : 2;
        String entry = prefix + "data/" + t.storageKey();
        if (zip.getEntry(entry) == null) {
          throw new IOException(file + ": tensor " + e.getKey() + ": no " + entry);
        }
        long begin = t.offset() * width;
        entries.put(
            e.getKey(),
            new Entry(file, t.dtype(), t.shape(), begin, begin + count * width, 0, entry));
      }
    } catch (java.util.zip.ZipException e) {
      throw new IOException(
          file + ": not a zip (a legacy, pre-1.6 torch.save?): " + e.getMessage(), e);
    }
  }

  private static List<String> iterable(JsonNode weightMap) {
    List<String> files = new ArrayList<>();
    weightMap.elements().forEachRemaining(n -> files.add(n.asText()));
    return files;
  }

  private void readHeader(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, len, 0);
      long headerLength = len.flip().getLong();
      if (headerLength <= 0 || headerLength > 100_000_000 || headerLength + 8 > ch.size()) {
        throw new IOException(
            file + ": not a safetensors file (header length " + headerLength + ")");
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLength);
      readFully(ch, header, 8);
      JsonNode json = JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
      long base = 8 + headerLength;
      for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().equals("__metadata__")) {
          continue;
        }
        JsonNode t = e.getValue();
        long[] shape = new long[t.path("shape").size()];
        for (int i = 0; i < shape.length; i++) {
          shape[i] = t.path("shape").get(i).asLong();
        }
        long begin = t.path("data_offsets").get(0).asLong();
        long end = t.path("data_offsets").get(1).asLong();
        if (base + end > ch.size() || begin > end) {
          throw new IOException(file + ": tensor " + e.getKey() + " lies outside the file");
        }
        entries.put(
            e.getKey(), new Entry(file, t.path("dtype").asText(), shape, begin, end, base, null));
      }
    }
  }

  /** Every tensor name in the folder. */
  public java.util.Set<String> names() {
    return java.util.Collections.unmodifiableSet(entries.keySet());
  }

  /** A tensor's shape. */
  public long[] shape(String name) throws IOException {
    return entry(name).shape().clone();
  }

  /**
   * A tensor's values as floats, row-major.
   *
   * @throws IOException naming a tensor that is missing or of an unsupported type
   */
  public float[] floats(String name) throws IOException {
    Entry e = entry(name);
    long count = 1;
    for (long d : e.shape()) {
      count *= d;
    }
    int width =
        switch (e.dtype()) {
          case "F32" -> 4;
          case "F16", "BF16" -> 2;
          default -> throw new IOException(dir + ": tensor " + name + " is " + e.dtype());
        };
    if (count * width != e.end() - e.begin() || count > Integer.MAX_VALUE) {
      throw new IOException(dir + ": tensor " + name + " has " + (e.end() - e.begin()) + " bytes");
    }
    ByteBuffer raw =
        ByteBuffer.allocate((int) (e.end() - e.begin())).order(ByteOrder.LITTLE_ENDIAN);
    if (e.zipEntry() != null) {
      try (ZipFile zip = new ZipFile(e.file().toFile());
          InputStream in = zip.getInputStream(zip.getEntry(e.zipEntry()))) {
        in.skipNBytes(e.begin());
        raw.put(in.readNBytes(raw.capacity()));
      }
      if (raw.hasRemaining()) {
        throw new IOException(dir + ": tensor " + name + " runs past its storage");
      }
    } else {
      try (FileChannel ch = FileChannel.open(e.file(), StandardOpenOption.READ)) {
        readFully(ch, raw, e.base() + e.begin());
      }
    }
    raw.flip();
    float[] out = new float[(int) count];
    for (int i = 0; i < out.length; i++) {
      out[i] =
          switch (e.dtype()) {
            case "F32" -> raw.getFloat();
            case "F16" -> halfToFloat(raw.getShort());
            default -> Float.intBitsToFloat((raw.getShort() & 0xFFFF) << 16); // BF16
          };
    }
    return out;
  }

  private Entry entry(String name) throws IOException {
    Entry e = entries.get(name);
    if (e == null) {
      throw new IOException(dir + ": missing tensor " + name);
    }
    return e;
  }

  /** IEEE 754 half → float, subnormals, infinities and NaN included. */
  static float halfToFloat(short h) {
    int bits = h & 0xFFFF;
    int sign = (bits & 0x8000) << 16;
    int exponent = (bits >>> 10) & 0x1F;
    int mantissa = bits & 0x3FF;
    if (exponent == 0x1F) {
      return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      float value = mantissa * 0x1p-24f; // subnormal (or zero)
      return sign == 0 ? value : -value;
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }

  private static void readFully(FileChannel ch, ByteBuffer into, long position) throws IOException {
    long at = position;
    while (into.hasRemaining()) {
      int n = ch.read(into, at);
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
      at += n;
    }
  }
}
