/**
 * Frames on the wire and into the engine: the {@link io.mqtstream.wire.FrameRecord} wire format,
 * the backpressured {@link io.mqtstream.ingest.KafkaFrameSource}, the dead-letter path, and the
 * embedded KRaft broker used by {@code demo} and the tests.
 */
package io.mqtstream.ingest;
