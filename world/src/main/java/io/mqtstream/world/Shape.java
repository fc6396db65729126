package io.mqtstream.world;

/** The shapes of the synthetic world. */
public enum Shape {
  CIRCLE,
  SQUARE,
  TRIANGLE;

  /** The word used in questions and answers. */
  public String word() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Plural, for counting questions. */
  public String plural() {
    return word() + "s";
  }
}
