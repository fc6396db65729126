package io.mqtstream.wire;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The versioned binary wire format of {@link FrameRecord}, as a Kafka serializer and deserializer.
 *
 * <pre>
 * offset  size  field
 * 0       4     magic "MQTF"
 * 4       1     version (1)
 * 5       1     encoding (0 JPEG, 1 RAW_RGB)
 * 6       2     cameraId length n (unsigned)
 * 8       n     cameraId, UTF-8
 * 8+n     8     sequence (signed, big-endian, must be >= 0)
 * 16+n    8     capture time, epoch microseconds
 * 24+n    4     width
 * 28+n    4     height
 * 32+n    4     payload length p
 * 36+n    p     payload
 * </pre>
 *
 * Reading rejects, with a {@link FrameFormatException} naming the field, anything that does not fit
 * this layout exactly: a wrong magic, an unknown version, a truncated or oversized payload,
 * trailing bytes, sizes out of range.
 */
public final class FrameRecordSerde implements Serializer<FrameRecord>, Deserializer<FrameRecord> {

  /** "MQTF" in ASCII. */
  public static final int MAGIC = 0x4D515446;

  public static final byte VERSION = 1;

  /** Default limit on the payload: 16 MiB is far above a 4K JPEG. */
  public static final int DEFAULT_MAX_PAYLOAD_BYTES = 16 << 20;

  /** Kafka client property that overrides the payload limit. */
  public static final String MAX_PAYLOAD_CONFIG = "mqt.frame.max.payload.bytes";

  private static final int FIXED_HEADER_BYTES = 4 + 1 + 1 + 2 + 8 + 8 + 4 + 4 + 4;

  private int maxPayloadBytes;

  public FrameRecordSerde() {
    this(DEFAULT_MAX_PAYLOAD_BYTES);
  }

  public FrameRecordSerde(int maxPayloadBytes) {
    this.maxPayloadBytes = maxPayloadBytes;
  }

  @Override
  public void configure(Map<String, ?> configs, boolean isKey) {
    Object limit = configs.get(MAX_PAYLOAD_CONFIG);
    if (limit != null) {
      int bytes;
      try {
        bytes = Integer.parseInt(limit.toString().trim());
      } catch (NumberFormatException e) {
        bytes = -1;
      }
      if (bytes < 1) {
        throw new IllegalArgumentException(
            MAX_PAYLOAD_CONFIG + ": must be a positive number of bytes, was " + limit);
      }
      maxPayloadBytes = bytes;
    }
  }

  @Override
  public byte[] serialize(String topic, FrameRecord frame) {
    return frame == null ? null : write(frame);
  }

  @Override
  public FrameRecord deserialize(String topic, byte[] data) {
    if (data == null) {
      throw new FrameFormatException("record", "null value");
    }
    return read(data);
  }

  @Override
  public void close() {
    // stateless
  }

  /** Encodes a frame; fails if its payload is above this serde's limit. */
  public byte[] write(FrameRecord frame) {
    byte[] id = frame.cameraId().getBytes(StandardCharsets.UTF_8);
    if (frame.payload().length > maxPayloadBytes) {
      throw new FrameFormatException(
          "payload", frame.payload().length + " bytes is above the limit of " + maxPayloadBytes);
    }
    ByteBuffer out = ByteBuffer.allocate(FIXED_HEADER_BYTES + id.length + frame.payload().length);
    out.putInt(MAGIC)
        .put(VERSION)
        .put((byte) frame.encoding().code())
        .putShort((short) id.length)
        .put(id)
        .putLong(frame.sequence())
        .putLong(frame.captureMicros())
        .putInt(frame.width())
        .putInt(frame.height())
        .putInt(frame.payload().length)
        .put(frame.payload());
    return out.array();
  }

  /** Decodes a frame, validating every field. */
  public FrameRecord read(byte[] data) {
    ByteBuffer in = ByteBuffer.wrap(data);
    String field = "magic";
    try {
      int magic = in.getInt();
      if (magic != MAGIC) {
        throw new FrameFormatException(
            "magic", String.format("expected 0x%08X, got 0x%08X", MAGIC, magic));
      }
      field = "version";
      int version = in.get() & 0xFF;
      if (version != VERSION) {
        throw new FrameFormatException("version", "unsupported version " + version);
      }
      field = "encoding";
      FrameRecord.Encoding encoding = FrameRecord.Encoding.fromCode(in.get() & 0xFF);
      field = "cameraId";
      int idLength = in.getShort() & 0xFFFF;
      if (idLength > FrameRecord.MAX_CAMERA_ID_BYTES) {
        throw new FrameFormatException(
            "cameraId", "length " + idLength + " is above " + FrameRecord.MAX_CAMERA_ID_BYTES);
      }
      byte[] id = new byte[idLength];
      in.get(id);
      String cameraId = utf8(id); // malformed UTF-8 is an error, not a replacement character
      field = "sequence";
      long sequence = in.getLong();
      field = "captureMicros";
      long captureMicros = in.getLong();
      field = "width";
      int width = in.getInt();
      field = "height";
      int height = in.getInt();
      field = "payloadLength";
      int payloadLength = in.getInt();
      if (payloadLength < 0) {
        throw new FrameFormatException("payloadLength", "negative: " + payloadLength);
      }
      if (payloadLength > maxPayloadBytes) {
        throw new FrameFormatException(
            "payloadLength", payloadLength + " bytes is above the limit of " + maxPayloadBytes);
      }
      if (in.remaining() < payloadLength) {
        throw new FrameFormatException(
            "payload",
            "truncated: declared " + payloadLength + " bytes, " + in.remaining() + " present");
      }
      if (in.remaining() > payloadLength) {
        throw new FrameFormatException(
            "payload", (in.remaining() - payloadLength) + " trailing bytes after the payload");
      }
      byte[] payload = new byte[payloadLength];
      in.get(payload);
      return new FrameRecord(cameraId, sequence, captureMicros, width, height, encoding, payload);
    } catch (BufferUnderflowException e) {
      throw new FrameFormatException(field, "truncated record of " + data.length + " bytes");
    }
  }

  private static String utf8(byte[] bytes) {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new FrameFormatException("cameraId", "not valid UTF-8");
    }
  }
}
