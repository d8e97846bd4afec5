package io.zaro.kafka.record;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Fuzzes the record decoder, which reads what anyone who can write to the topics wrote (issue 9).
 * Every input either decodes or is refused with {@link MalformedRecordException}; any other
 * exception, an {@link OutOfMemoryError} or an input that runs past the timeout is a finding.
 * What decodes is a fixed point of the codec: re-encoded and decoded again it is the same record,
 * and re-encoding that gives the same bytes (the input itself need not be canonical: protobuf
 * allows fields in any order, repeated, or with default values written out, and the labels are
 * kept as a sorted set).
 *
 * <p>In {@code mvn test} each method runs on the empty input and its files in
 * {@code src/test/resources/io/zaro/kafka/record/FlowRecordCodecFuzzTestInputs/METHOD/}
 * (seeds from {@link FlowRecordSeeds}, findings Jazzer wrote there); README, "Fuzzing the decoder",
 * says how to fuzz.
 */
class FlowRecordCodecFuzzTest {

    @FuzzTest
    @Timeout(10) // in fuzzing, libFuzzer's -timeout: an input that takes this long is a hang
    void decode(byte[] bytes) throws MalformedRecordException {
        FlowRecord record;
        try {
            record = FlowRecordCodec.decode(bytes);
        } catch (MalformedRecordException refused) {
            return;
        }
        assertTrue(bytes.length <= FlowRecordCodec.MAX_RECORD_BYTES, "decoded a record of " + bytes.length + " bytes");
        byte[] canonical = FlowRecordCodec.encode(record);
        assertTrue(canonical.length <= FlowRecordCodec.MAX_RECORD_BYTES,
                "a decoded record re-encodes to " + canonical.length + " bytes, more than a reader takes");
        FlowRecord again = FlowRecordCodec.decode(canonical);
        assertEquals(record, again, "decode(encode(record))");
        assertArrayEquals(canonical, FlowRecordCodec.encode(again), "the re-encoded form is not stable");

        // The key a publisher would write for this record's flow names the same flow.
        FlowId id = FlowId.of(record.entry());
        assertEquals(id, FlowRecordCodec.decodeKey(FlowRecordCodec.encodeKey(record.entry())));
    }

    /**
     * Found by fuzzing decode ({@code decode/crash-e22c176c787f0a55ec2f75d76059ed2bc6b05f1f}): any
     * int64 of microseconds decodes, but encode counted in nanoseconds and threw
     * ArithmeticException for a timestamp after 2262-04-11 (or before 1677-09-21).
     */
    @ParameterizedTest
    @ValueSource(longs = {Long.MIN_VALUE, -9_223_372_036_854_776L, -1, 0, 1, 9_223_372_036_854_776L, 21_498_840_169_869_376L,
        Long.MAX_VALUE})
    void everyTimestampThatDecodesEncodesAgain(long micros) throws Exception {
        byte[] bytes = io.zaro.kafka.proto.v1.FlowRecord.parseFrom(FlowRecordSeeds.files("decode").get("valid-udp4-mark"))
                .toBuilder().setTimestampMicros(micros).build().toByteArray();
        FlowRecord record = FlowRecordCodec.decode(bytes);
        byte[] again = FlowRecordCodec.encode(record);
        assertEquals(micros, io.zaro.kafka.proto.v1.FlowRecord.parseFrom(again).getTimestampMicros());
        assertEquals(record, FlowRecordCodec.decode(again));
    }

    @Test
    void timestampsAreRoundedDownToTheMicrosecond() {
        assertEquals(1, FlowRecordCodec.epochMicros(Instant.ofEpochSecond(0, 1_999)));
        assertEquals(-1, FlowRecordCodec.epochMicros(Instant.ofEpochSecond(-1, 999_999_500)));
        assertEquals(-1_000_001, FlowRecordCodec.epochMicros(Instant.ofEpochSecond(-2, 999_999_000)));
    }

    @FuzzTest
    @Timeout(10)
    void decodeKey(byte[] bytes) throws MalformedRecordException {
        FlowId id;
        try {
            id = FlowRecordCodec.decodeKey(bytes);
        } catch (MalformedRecordException refused) {
            return;
        }
        byte[] canonical = FlowRecordCodec.encodeKey(id);
        FlowId again = FlowRecordCodec.decodeKey(canonical);
        assertEquals(id, again, "decodeKey(encodeKey(id))");
        assertArrayEquals(canonical, FlowRecordCodec.encodeKey(again), "the re-encoded key is not stable");
        // A DESTROY without more to say carries the bare entry of its key: it too keys the same flow.
        assertEquals(id, FlowId.of(id.bareEntry()));
    }
}
