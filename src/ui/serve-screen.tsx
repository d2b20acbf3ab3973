import { Box, Text } from 'ink';
import { formatDuration } from '../core/duration.ts';
import type { ServeState } from '../server/serve-activity.ts';

export interface ServeScreenProps {
  readonly state: ServeState;
  readonly openWatches: number;
  readonly cancelsPerSecond: number;
  readonly watchesPerSecond: number;
  readonly now: number;
}

const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 8);
const rate = (perSecond: number) => (perSecond >= 10 ? perSecond.toFixed(0) : perSecond.toFixed(1));

/** The serve dashboard: where it listens, how busy it is, the latest cancels and errors. */
export function ServeScreen({ state, openWatches, cancelsPerSecond, watchesPerSecond, now }: ServeScreenProps) {
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>taskctl serve</Text> · listening on {state.url} · store {state.store} · up {formatDuration(now - state.startedAt)}
      </Text>
      <Text>
        open watches <Text bold>{openWatches}</Text> · cancels/s <Text bold>{rate(cancelsPerSecond)}</Text> · watches answered/s{' '}
        <Text bold>{rate(watchesPerSecond)}</Text> · cancels since start {state.cancelsTotal} · tasks lost{' '}
        <Text color={state.lostTotal > 0 ? 'red' : undefined}>{state.lostTotal}</Text>
      </Text>
      <Text> </Text>
      <Text bold>Recent cancels</Text>
      {state.recentCancels.length === 0 ? (
        <Text dimColor>none yet</Text>
      ) : (
        state.recentCancels.map((c, i) => (
          <Box key={`${c.id}-${c.at}-${i}`}>
            <Box width={10}><Text dimColor>{clock(c.at)}</Text></Box>
            <Box width={20}><Text wrap="truncate-end">{c.id}</Text></Box>
            <Box width={14}><Text wrap="truncate-end">{c.by ?? ''}</Text></Box>
            <Box width={18}><Text dimColor wrap="truncate-end">{c.address}</Text></Box>
            <Text wrap="truncate-end">{c.reason ?? ''}</Text>
          </Box>
        ))
      )}
      <Text> </Text>
      <Text bold>Task states</Text>
      {state.recentTaskChanges.length === 0 ? (
        <Text dimColor>no task watched yet</Text>
      ) : (
        state.recentTaskChanges.map((c, i) => (
          <Box key={`${c.id}-${c.at}-${i}`}>
            <Box width={10}><Text dimColor>{clock(c.at)}</Text></Box>
            <Box width={20}><Text wrap="truncate-end">{c.id}</Text></Box>
            <Box width={18}><Text color={c.state === 'lost' || c.state === 'failed' ? 'red' : undefined}>{c.state}</Text></Box>
            <Text dimColor wrap="truncate-end">{c.worker ?? ''}</Text>
          </Box>
        ))
      )}
      <Text> </Text>
      <Text bold>Recent errors</Text>
      {state.recentErrors.length === 0 ? (
        <Text dimColor>none</Text>
      ) : (
        state.recentErrors.map((e, i) => (
          <Text key={`${e.at}-${i}`} color="red" wrap="truncate-end">
            {clock(e.at)} {e.message}
          </Text>
        ))
      )}
      <Text> </Text>
      <Text dimColor>Ctrl-C stops the server (open watches are answered first)</Text>
    </Box>
  );
}
