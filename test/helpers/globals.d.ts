// Tests read many JSON replies whose shape they then assert; let them do so without a cast each time.
interface Response {
  json(): Promise<any>;
}
