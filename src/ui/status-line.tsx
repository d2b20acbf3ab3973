import { Text } from 'ink';
import { fitSegments, type Segment } from './line-layout.ts';

export interface StatusLineProps {
  readonly segments: readonly Segment[];
  /** Terminal cells the line may take. */
  readonly width: number;
}

/** Segments joined by " · " on exactly one line, shortened as line-layout.ts says when too wide. */
export function StatusLine({ segments, width }: StatusLineProps) {
  const spans = fitSegments(segments, width);
  return (
    <Text wrap="truncate-end">
      {spans.length === 0
        ? ' '
        : spans.map(({ text, ...style }, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: spans are positional and never reorder
            <Text key={i} {...style}>
              {text}
            </Text>
          ))}
    </Text>
  );
}
