package io.mqtstream.reasoner;

import java.util.List;

/** A batch that prompts join and leave between decode steps (what {@link PromptBatcher} drives). */
public interface RunningBatch extends AutoCloseable {

  /** Prefills and adds prompts; returns those already finished. */
  List<Completion> admit(List<Prompt> prompts);

  /** One decode step for every active sequence; returns those that finished. */
  List<Completion> step();

  /** Sequences decoding now. */
  int active();

  @Override
  void close();

  /** Where running batches come from: the model. */
  interface Factory {
    RunningBatch open();
  }
}
