package io.mqtstream.wire;

/**
 * Names of the Kafka headers MQT Stream reads and writes, in one place: what a camera may set on a
 * {@code frames} record, what the engine copies onto {@code answers}, and what a dead letter
 * carries.
 */
public final class FrameHeaders {
  /**
   * Set ({@code "true"}) by a camera on the first frame of a new scene (a cut, a new clip): the
   * engine starts a new frame window there instead of mixing frames of two scenes.
   */
  public static final String SCENE_START = "mqt.scene.start";

  /** Synthetic cameras: the seed of the clip a frame belongs to. */
  public static final String CLIP_SEED = "mqt.clip.seed";

  /** Synthetic cameras: the frame's index in its clip. */
  public static final String CLIP_FRAME = "mqt.clip.frame";

  /**
   * Ground truth known to the camera, JSON {question → answer} as of this frame; the engine copies
   * a frame's headers onto its answers, so downstream checkers can score them.
   */
  public static final String TRUTH = "mqt.truth";

  /** Dead letters: why the record could not be handled (a short code). */
  public static final String DLQ_REASON = "mqt.dlq.reason";

  /** Dead letters: the error message. */
  public static final String DLQ_ERROR = "mqt.dlq.error";

  /** Dead letters: the offending field of the frame format, when known. */
  public static final String DLQ_FIELD = "mqt.dlq.field";

  /** Dead letters: topic the record was read from. */
  public static final String DLQ_SOURCE_TOPIC = "mqt.dlq.source.topic";

  /** Dead letters: partition the record was read from. */
  public static final String DLQ_SOURCE_PARTITION = "mqt.dlq.source.partition";

  /** Dead letters: offset the record was read from. */
  public static final String DLQ_SOURCE_OFFSET = "mqt.dlq.source.offset";

  private FrameHeaders() {}
}
