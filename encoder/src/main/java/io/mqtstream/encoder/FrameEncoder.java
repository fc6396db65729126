package io.mqtstream.encoder;

import io.mqtstream.wire.FrameRecord;
import java.util.List;

/**
 * What the engine needs of a model's vision side: a frame's picture decoded into the encoder's own
 * form (on the decode threads, one frame at a time, failing with {@link FrameDecodeException}), and
 * M visual tokens per picture (in batches, on the encoder's thread). {@link MqtEncoder} is the
 * mqt-tiny family's; an MQT-LLaVA checkpoint's CLIP tower and MQT block are another (module {@code
 * llava}).
 */
public interface FrameEncoder extends AutoCloseable {

  /** The frame's picture as {@link #encodeDecoded} takes it. */
  byte[] pixels(FrameRecord frame);

  /** M visual tokens for each decoded picture, in order. */
  List<VisualTokens> encodeDecoded(List<byte[]> pictures);

  /** M, the most visual tokens per frame. */
  int maxTokens();

  /** A blank decoded picture, for warming the model up. */
  byte[] blank();

  @Override
  void close();
}
