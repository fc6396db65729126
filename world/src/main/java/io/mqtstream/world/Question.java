package io.mqtstream.world;

/**
 * A question about a clip and the answer that follows from its objects.
 *
 * @param subject the one object the question is about ("the red circle", "the square" when it is
 *     the only one), for training reads of where the LM looked; null when the question is about no
 *     single object (counts, "did something appear?", a "no" to "is there…?"). A clip never shows
 *     two objects of one colour and shape, so a name fits one object at most.
 */
public record Question(QuestionType type, String text, String answer, SceneObject subject) {

  /** A question about no single object. */
  public Question(QuestionType type, String text, String answer) {
    this(type, text, answer, null);
  }
}
