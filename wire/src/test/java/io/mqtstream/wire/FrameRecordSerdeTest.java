package io.mqtstream.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FrameRecordSerdeTest {
  private final FrameRecordSerde serde = new FrameRecordSerde(1 << 20);

  private static FrameRecord jpeg(int bytes) {
    byte[] payload = new byte[bytes];
    new Random(7).nextBytes(payload);
    return new FrameRecord(
        "cam-ü-1", 42, 1_700_000_000_123_456L, 640, 480, FrameRecord.Encoding.JPEG, payload);
  }

  @Test
  void thePayloadLimitIsConfiguredByItsKeyAndABadValueNamesTheKey() {
    FrameRecordSerde serde = new FrameRecordSerde();
    serde.configure(java.util.Map.of(FrameRecordSerde.MAX_PAYLOAD_CONFIG, "100"), false);
    byte[] big =
        new FrameRecordSerde()
            .write(new FrameRecord("c", 0, 0, 8, 8, FrameRecord.Encoding.JPEG, new byte[101]));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> serde.read(big))
        .isInstanceOfSatisfying(
            FrameFormatException.class, e -> assertThat(e.field()).isEqualTo("payloadLength"));
    for (String bad : new String[] {"abc", "0", "-5"}) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () ->
                  new FrameRecordSerde()
                      .configure(java.util.Map.of(FrameRecordSerde.MAX_PAYLOAD_CONFIG, bad), false))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(FrameRecordSerde.MAX_PAYLOAD_CONFIG)
          .hasMessageContaining(bad);
    }
  }

  @Test
  void roundTripsJpegAndRawFrames() {
    FrameRecord j = jpeg(1234);
    assertThat(serde.deserialize("frames", serde.serialize("frames", j))).isEqualTo(j);

    byte[] rgb = new byte[4 * 3 * 3];
    new Random(1).nextBytes(rgb);
    FrameRecord raw = new FrameRecord("c", 0, -5, 4, 3, FrameRecord.Encoding.RAW_RGB, rgb);
    FrameRecord back = serde.read(serde.write(raw));
    assertThat(back).isEqualTo(raw);
    assertThat(back.payload()).isEqualTo(rgb);
    assertThat(back.captureMicros()).isEqualTo(-5);
  }

  @Test
  void rejectsBadMagic() {
    byte[] data = serde.write(jpeg(10));
    data[0] = 'X';
    assertField(data, "magic");
  }

  @Test
  void rejectsUnknownVersionAndEncoding() {
    byte[] data = serde.write(jpeg(10));
    data[4] = 9;
    assertField(data, "version");
    data = serde.write(jpeg(10));
    data[5] = 7;
    assertField(data, "encoding");
  }

  @Test
  void rejectsTruncatedRecords() {
    byte[] data = serde.write(jpeg(100));
    assertField(Arrays.copyOf(data, data.length - 1), "payload");
    assertField(Arrays.copyOf(data, 3), "magic");
    assertField(Arrays.copyOf(data, 12), "cameraId");
    int idLen = "cam-ü-1".getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    assertField(Arrays.copyOf(data, 8 + idLen + 4), "sequence");
    assertField(new byte[0], "magic");
  }

  @Test
  void rejectsTrailingBytes() {
    byte[] data = serde.write(jpeg(10));
    assertField(Arrays.copyOf(data, data.length + 2), "payload");
  }

  @Test
  void rejectsOversizedAndNegativePayloadLengths() {
    byte[] data = serde.write(jpeg(10));
    int lengthAt = data.length - 10 - 4;
    ByteBuffer.wrap(data).putInt(lengthAt, (1 << 20) + 1);
    assertField(data, "payloadLength");
    ByteBuffer.wrap(data).putInt(lengthAt, -1);
    assertField(data, "payloadLength");
    assertThatThrownBy(() -> serde.write(jpeg((1 << 20) + 1)))
        .isInstanceOfSatisfying(
            FrameFormatException.class, e -> assertThat(e.field()).isEqualTo("payload"));
  }

  @Test
  void rejectsNegativeOrAbsurdSizesAndSequence() {
    byte[] data = serde.write(jpeg(10));
    int idLen = "cam-ü-1".getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    int seqAt = 8 + idLen;
    int widthAt = seqAt + 16;
    ByteBuffer.wrap(data).putInt(widthAt, -640);
    assertField(data, "width");
    ByteBuffer.wrap(data).putInt(widthAt, 640).putInt(widthAt + 4, FrameRecord.MAX_SIDE + 1);
    assertField(data, "height");
    ByteBuffer.wrap(data).putInt(widthAt + 4, 480).putLong(seqAt, -1);
    assertField(data, "sequence");
  }

  @Test
  void rejectsRawPayloadOfTheWrongSize() {
    FrameRecord raw = new FrameRecord("c", 0, 0, 2, 2, FrameRecord.Encoding.RAW_RGB, new byte[12]);
    byte[] data = serde.write(raw);
    ByteBuffer.wrap(data).putInt(8 + 1 + 16, 3); // width 3 -> needs 18 bytes
    assertField(data, "payload");
  }

  @Test
  void rejectsNullValue() {
    assertThatThrownBy(() -> serde.deserialize("frames", null))
        .isInstanceOfSatisfying(
            FrameFormatException.class, e -> assertThat(e.field()).isEqualTo("record"));
  }

  private void assertField(byte[] data, String field) {
    assertThatThrownBy(() -> serde.read(data))
        .isInstanceOfSatisfying(
            FrameFormatException.class,
            e -> {
              assertThat(e.field()).isEqualTo(field);
              assertThat(e.getMessage()).startsWith(field + ":");
            });
  }
}
