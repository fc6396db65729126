/**
 * The load-test harness: N synthetic cameras at F fps against the engine, measuring latency,
 * throughput, lag, m over time, accuracy and loss. Not built yet (its own issue).
 */
package io.mqtstream.loadtest;
