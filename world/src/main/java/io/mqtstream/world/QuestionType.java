package io.mqtstream.world;

/** The kinds of questions the synthetic world asks; coarse ones first. */
public enum QuestionType {
  /** "is there a red square?" */
  EXISTS,
  /** "what colour is the circle?" (when there is exactly one) */
  COLOUR_OF,
  /** "how many shapes are there?" */
  COUNT_ALL,
  /** "how many circles are there?" */
  COUNT_SHAPE,
  /** "how many red shapes are there?" */
  COUNT_COLOUR,
  /** "is the red circle on the left or the right?" / "… at the top or the bottom?" */
  POSITION,
  /** "which way is the red circle moving?" (needs two frames) */
  DIRECTION,
  /** "did something appear?" (needs two frames) */
  APPEARED;

  public String key() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
