// Direction questions a clip, by object count, on 20,000 training clips (the model card cites it):
// jshell --class-path "app/target/mqt-stream.jar:$(ls app/target/lib/*.jar | tr '\n' ':')" docs/eval/direction-questions.jsh
import io.mqtstream.world.*;
for (int[] range : new int[][] {{2, 2}, {2, 4}, {1, 4}}) {
  var base = WorldConfig.tiny();
  var w = new SyntheticWorld(new WorldConfig(base.imageSize(), base.frames(), range[0], range[1], base.moving(), base.appearing(), base.checkered(), java.util.Set.of(QuestionType.DIRECTION)));
  long q = 0; long lone = 0; int clips = 20000;
  for (int i = 0; i < clips; i++) {
    var c = w.clip(Split.TRAIN.seed(i));
    var qs = w.questions(c);
    q += qs.size();
    if (c.visibleAt(c.frames() - 1).size() == 1) lone += qs.size();
  }
  System.out.printf("objects %d-%d: %.2f direction questions a clip, %.0f a 100-step window of 16 clips, lone-object share %.3f%n", range[0], range[1], (double) q / clips, 1600.0 * q / clips, (double) lone / q);
}
/exit
