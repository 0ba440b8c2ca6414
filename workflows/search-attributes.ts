/**
 * Custom search attributes (Keyword), registered when the dev server starts (infra/temporal) so
 * that `temporal workflow list --query 'MewmCohortId="c1" AND MewmStatus="failed"'` finds runs.
 * Values are pseudonymous ids and statuses only: never PHI.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const MewmCohortId = defineSearchAttributeKey('MewmCohortId', SearchAttributeType.KEYWORD);
export const MewmCaseId = defineSearchAttributeKey('MewmCaseId', SearchAttributeType.KEYWORD);
export const MewmStatus = defineSearchAttributeKey('MewmStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_NAMES = ['MewmCohortId', 'MewmCaseId', 'MewmStatus'] as const;

export type MewmStatusValue = 'running' | 'completed' | 'completed-with-failures' | 'failed';
