/** docker's event message (swagger `EventMessage`), one line of berth's event log and of `GET /events` */

export type EventType = "container" | "image" | "network" | "volume";

/** swagger `EventMessage` */
export interface EventMessage {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local";
  /** unix seconds */
  time: number;
  timeNano: number;
  /** docker's legacy fields, containers and images only */
  status?: string;
  id?: string;
  from?: string;
}
