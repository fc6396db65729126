package io.mqtstream.world;

/** A question about a clip and the answer that follows from its objects. */
public record Question(QuestionType type, String text, String answer) {}
