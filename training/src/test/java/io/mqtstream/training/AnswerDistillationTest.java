package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mqtstream.nn.Engines;
import org.junit.jupiter.api.Test;

/**
 * The distillation loss on logits alone: descending it moves a student's answer distribution onto
 * the teacher's (its minimum is the teacher itself, not the teacher's top token), and the teacher
 * takes no gradient.
 */
class AnswerDistillationTest {
  @Test
  void descendingTheLossMovesTheStudentOntoTheTeachersDistribution() {
    try (NDManager manager = Engines.pytorch().newBaseManager()) {
      manager.getEngine().setRandomSeed(3);
      NDArray teacherLogits = manager.randomNormal(new Shape(5, 7)).mul(2f); // (N, V)
      teacherLogits.setRequiresGradient(true);
      NDArray student = manager.randomNormal(new Shape(5, 7));
      student.setRequiresGradient(true);
      NDArray wanted = teacherLogits.softmax(1);
      float first = Float.NaN;
      float last = Float.NaN;
      for (int i = 0; i < 2000; i++) {
        try (GradientCollector gc =
            Engine.getEngine(Engines.pytorch().getEngineName()).newGradientCollector()) {
          NDArray loss =
              AnswerDistillation.loss(student, AnswerDistillation.teacher(teacherLogits));
          gc.backward(loss);
          last = loss.getFloat();
          first = i == 0 ? last : first;
        }
        student.subi(student.getGradient().mul(2f));
        Trainer.clear(student.getGradient()); // the next backward adds into it
        assertThat(teacherLogits.getGradient().abs().max().getFloat())
            .as("the teacher's gradient")
            .isZero();
      }
      float[] got = student.softmax(1).toFloatArray();
      float[] want = wanted.toFloatArray();
      for (int i = 0; i < want.length; i++) {
        assertThat(got[i]).as("probability %d", i).isCloseTo(want[i], within(2e-3f));
      }
      // at the minimum the loss is the teacher's entropy
      float entropy = wanted.mul(wanted.log()).sum().neg().div(5).getFloat();
      assertThat(last).isLessThan(first).isCloseTo(entropy, within(1e-3f));
    }
  }
}
